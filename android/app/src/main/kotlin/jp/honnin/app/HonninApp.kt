package jp.honnin.app

import android.app.Application
import android.content.Context
import jp.honnin.app.flow.DoorCheckFlow
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.ItemDirectory
import jp.honnin.app.flow.PolicyTable
import jp.honnin.app.flow.SenderPolicies
import jp.honnin.app.keys.DeviceKeySigner
import jp.honnin.app.keys.KeystoreDeviceKey
import jp.honnin.app.keys.KeystoreKeyWrapper
import jp.honnin.app.keys.WrappedKeyFile
import jp.honnin.app.keys.WrappedStoreKeyProvider
import jp.honnin.app.keys.hasStrongBox
import jp.honnin.app.records.ProofRecords
import jp.honnin.app.records.ReceiverEnrolment
import jp.honnin.app.records.RecordSync
import jp.honnin.app.sync.JobSchedulerSyncRequests
import jp.honnin.core.Clock
import jp.honnin.core.PhoneIssuerAnchors
import jp.honnin.core.PhoneVerifier
import jp.honnin.core.TrustAnchors
import jp.honnin.core.Verifier
import java.io.File
import java.time.ZoneId
import java.util.concurrent.Executor
import java.util.concurrent.Executors

/** Builds the app's services once per process. */
class HonninApp : Application() {
    lateinit var services: Services
        private set

    override fun onCreate() {
        super.onCreate()
        // Before any sync: a receiver enrolled without a pin is checked against Android's trust
        // store, which the Rust verifier reaches through this context.
        PlatformTrust.init(applicationContext)
        services = Services.create(this)
        // Records left unsent by an earlier run go out as soon as there is a network.
        services.syncRequests.requestSync()
        // And the manifest and trust bundle are refreshed every few hours even with no record
        // to send, so they do not go stale on a quiet day (kept if already scheduled).
        services.syncRequests.schedulePeriodic()
    }
}

/** The platform clock, for checks and records. */
object SystemClock : Clock {
    override fun nowUnixSeconds(): Long = System.currentTimeMillis() / 1000
}

/** Everything the screens and the sync job use, wired once. */
class Services(
    val settings: DeviceSettings,
    val verifier: Verifier,
    /** The phone check (level M); `null` when no phone issuers' anchors ship with the app. */
    val phoneVerifier: PhoneVerifier?,
    val directory: ItemDirectory,
    val policies: SenderPolicies,
    val records: ProofRecords,
    val sync: RecordSync,
    val enrolment: ReceiverEnrolment,
    val syncRequests: JobSchedulerSyncRequests,
    /**
     * The door check's verifier for each check: from the trust bundle the last sync kept
     * ([DeviceTrust]), else [verifier] (the anchors shipped in the APK).
     */
    val verifiers: () -> Verifier = { verifier },
    /** What [verifiers] builds from, for the item screen's trust status; `null`: the APK's anchors only. */
    private val trust: DeviceTrust? = null,
    /** One thread for card checks and store writes: checks never overlap. */
    private val worker: Executor = Executors.newSingleThreadExecutor(),
) {
    /**
     * What the door check trusts now ([DeviceTrust.state]), handed to [onState] on the worker
     * (it may read the store's directory, so never on the main thread).
     */
    fun trustState(onState: (TrustState) -> Unit) {
        worker.execute { onState(trust?.state() ?: TrustState.Shipped) }
    }

    fun newFlow(onState: (FlowState) -> Unit) = DoorCheckFlow(
        verifiers = verifiers,
        phoneVerifier = phoneVerifier,
        directory = directory,
        policies = policies,
        records = records,
        syncRequests = syncRequests,
        deviceId = settings.deviceId,
        clock = SystemClock,
        zone = ZoneId.systemDefault(),
        worker = worker,
        onState = onState,
    )

    companion object {
        /** The deployment's trust anchors ship as DER files in assets/anchors (see android/README.md). */
        private const val ANCHORS = "anchors"

        /** The phone issuers' IACA certificates (level M) ship as DER files in assets/mdoc-anchors. */
        private const val PHONE_ANCHORS = "mdoc-anchors"

        private fun assetFiles(context: Context, dir: String): List<ByteArray> =
            context.assets.list(dir).orEmpty().sorted().map { name ->
                context.assets.open("$dir/$name").use { it.readBytes() }
            }

        fun create(context: Context): Services {
            val settings = DeviceSettings(context.getSharedPreferences("honnin", Context.MODE_PRIVATE))
            // The APK's anchors, until a sync keeps the receiver's trust bundle.
            val verifier = Verifier(TrustAnchors.fromDer(assetFiles(context, ANCHORS)), SystemClock)
            // Without phone issuers' anchors no phone can verify: level M is not offered at all,
            // rather than offered and then never genuine. Broken anchors fail start-up like the JPKI ones.
            val phoneAnchors = assetFiles(context, PHONE_ANCHORS)
            val phoneVerifier = if (phoneAnchors.isEmpty()) null else PhoneVerifier(PhoneIssuerAnchors.fromDer(phoneAnchors), SystemClock)
            val strongBox = hasStrongBox(context)
            val storeFile = File(context.noBackupFilesDir, "records.db")
            val storeKey = WrappedKeyFile(File(context.noBackupFilesDir, "store-key.wrapped"), KeystoreKeyWrapper(strongBox))
            val core = CoreRecords(
                storeFile = storeFile,
                storeKey = WrappedStoreKeyProvider(storeKey, storeFile),
                signer = DeviceKeySigner(KeystoreDeviceKey(strongBox)),
                deviceId = settings.deviceId,
                courierId = { settings.courierId },
                enrolments = settings,
                clock = SystemClock,
                appVersion = appVersion(context),
            )
            val trust = DeviceTrust(verifier, core, SystemClock)
            return Services(
                settings = settings,
                verifier = verifier,
                phoneVerifier = phoneVerifier,
                // The synced manifest; an item not in it is typed from its label.
                directory = core,
                // No sender's policy is configured on the device: an item not in the manifest
                // gets every level with a warning, level B first, level A only once confirmed.
                policies = PolicyTable(emptyMap()),
                records = core,
                sync = core,
                enrolment = core,
                syncRequests = JobSchedulerSyncRequests(context),
                verifiers = trust::verifier,
                trust = trust,
            )
        }

        /** What the receiver's operator sees this device run: `honnin-android/<versionName>`. */
        // getPackageInfo(String, PackageInfoFlags) is API 33; minSdk is 28.
        @Suppress("DEPRECATION")
        private fun appVersion(context: Context): String =
            CoreRecords.appVersion(context.packageManager.getPackageInfo(context.packageName, 0).versionName)
    }
}
