package jp.honnin.app

import jp.honnin.app.flow.Item
import jp.honnin.app.keys.KeystoreDeviceKey
import jp.honnin.app.keys.WrappedKeyFile
import jp.honnin.app.records.EnrolOutcome
import jp.honnin.app.records.ProofRecords
import jp.honnin.app.records.ReceiverEnrolment
import jp.honnin.app.records.RecordSummary
import jp.honnin.app.records.RecordSync
import jp.honnin.app.records.SyncOutcome
import jp.honnin.core.Clock
import jp.honnin.core.DoorCheckReport
import java.io.File

/**
 * The core's record store, sync and enrolment for the app. The bindings do not expose the store
 * yet (issue 7): until they do, appending fails with a clear message (the courier still sees the
 * verdict and that no record was stored), and there is nothing to sync.
 */
class CoreRecords(
    private val storeFile: File,
    private val deviceKey: KeystoreDeviceKey,
    private val storeKey: WrappedKeyFile,
    private val settings: DeviceSettings,
    private val clock: Clock,
) : ProofRecords, RecordSync, ReceiverEnrolment {
    override fun append(report: DoorCheckReport, item: Item): RecordSummary =
        throw UnsupportedOperationException("the record store is not in this build of the bindings (${storeFile.name})")

    override fun since(sinceUnixSeconds: Long): List<RecordSummary> = emptyList()

    override fun syncPending(): SyncOutcome = SyncOutcome.NotEnrolled

    override fun enrol(receiverUrl: String, deviceId: String, code: CharArray): EnrolOutcome {
        code.fill('\u0000')
        return EnrolOutcome.Failed("enrolment is not in this build of the bindings")
    }
}
