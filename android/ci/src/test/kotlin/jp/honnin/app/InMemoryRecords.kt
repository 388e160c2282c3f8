package jp.honnin.app

import jp.honnin.app.flow.Item
import jp.honnin.app.records.ProofRecords
import jp.honnin.app.records.RecordSummary
import jp.honnin.app.records.RecordSync
import jp.honnin.app.records.SyncOutcome
import jp.honnin.core.DoorCheckReport
import java.util.UUID

/** Records kept in a list, standing in for the core's store in tests of the flow alone. */
class InMemoryRecords : ProofRecords, RecordSync {
    private val records = mutableListOf<RecordSummary>()

    @Synchronized
    override fun append(report: DoorCheckReport, item: Item): RecordSummary =
        RecordSummary(UUID.randomUUID().toString(), item.itemId, item.senderId, report.level(), report.verdict(), TestClock.SECONDS, null)
            .also(records::add)

    @Synchronized
    override fun since(sinceUnixSeconds: Long): List<RecordSummary> = records.filter { it.checkedAtUnixSeconds >= sinceUnixSeconds }

    @Synchronized
    override fun syncPending(): SyncOutcome {
        val pending = records.withIndex().filter { !it.value.isSynced }
        pending.forEach { (i, r) -> records[i] = r.copy(syncedAtUnixSeconds = TestClock.SECONDS) }
        return SyncOutcome.Done(sent = pending.size, remaining = 0)
    }

    @Synchronized
    fun stored(): List<RecordSummary> = records.toList()
}
