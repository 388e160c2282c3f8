package jp.honnin.app

import jp.honnin.app.flow.Item
import jp.honnin.app.flow.ItemDirectory
import jp.honnin.app.flow.ManifestEntry
import jp.honnin.app.keys.WrappedStoreKeyProvider
import jp.honnin.app.records.EnrolOutcome
import jp.honnin.app.records.EnrolmentMemory
import jp.honnin.app.records.ProofRecords
import jp.honnin.app.records.ReceiverEnrolment
import jp.honnin.app.records.ReceiverLink
import jp.honnin.app.records.RecordSummary
import jp.honnin.app.records.RecordSync
import jp.honnin.app.records.SyncOutcome
import jp.honnin.core.CancellationToken
import jp.honnin.core.Addressee
import jp.honnin.core.AnnouncedTlsPins
import jp.honnin.core.Clock
import jp.honnin.core.DeviceSigner
import jp.honnin.core.DoorCheckReport
import jp.honnin.core.HonninException
import jp.honnin.core.ManifestItem
import jp.honnin.core.ManifestUpdate
import jp.honnin.core.ReceiverConfig
import jp.honnin.core.RecordStore
import jp.honnin.core.TrustBundle
import jp.honnin.core.TrustBundleUpdate
import java.io.File
import java.util.concurrent.atomic.AtomicLong
import jp.honnin.core.RecordSummary as StoredRecord

/**
 * The core's record store (the bindings' [RecordStore]: encrypted, device-signed, hash-chained
 * SQLite in [storeFile]), its enrolment and its sync, behind the app's interfaces. Each method
 * is a delegation plus the mapping of the core's errors to what the screens and the job decide
 * on; no record logic lives here.
 *
 * The store opens on first use (never on the main thread: every caller is a worker or the
 * job), and again after a failed open. Calls block on the file or the network.
 */
class CoreRecords(
    private val storeFile: File,
    private val storeKey: WrappedStoreKeyProvider,
    private val signer: DeviceSigner,
    /** The id this device's checks are made with; the store binds to it. */
    private val deviceId: String,
    /** Who checks with this handheld now, for each record. */
    private val courierId: () -> String,
    private val enrolments: EnrolmentMemory,
    private val clock: Clock,
    /**
     * Tries per sync request before the sync gives up as offline. Few: the sync job's own
     * backoff covers longer outages without holding a thread.
     */
    private val attemptsPerSync: UInt = 3u,
    /** Told to the receiver with each request (`honnin-android/<versionName>`, see [appVersion]). */
    private val appVersion: String? = null,
) : ProofRecords, RecordSync, ReceiverEnrolment, ItemDirectory, TrustSource {
    @Volatile
    private var opened: RecordStore? = null

    private val trustChanges = AtomicLong()

    /** Moves after each enrolment and each sync that kept a trust bundle or learnt a new receipt key. */
    override val trustGeneration: Long get() = trustChanges.get()

    private fun store(): RecordStore = opened ?: synchronized(this) {
        opened ?: keysWipedAfter { RecordStore.open(storeFile.path, storeKey, signer, clock) }.also { opened = it }
    }

    /** Runs a core call that may ask for the store key, and wipes the key Kotlin handed over. */
    private fun <T> keysWipedAfter(call: () -> T): T = try {
        call()
    } finally {
        storeKey.wipeHandedOut()
    }

    override fun append(report: DoorCheckReport, item: Item): RecordSummary {
        val store = store()
        // What the sender's manifest asks for; none for a typed item.
        val appended = store.append(report, courierId(), item.attributes)
        val newest = store.records(null, 1u).single()
        check(newest.recordId == appended.recordId) { "the store's newest record is not the one just appended" }
        return summaryOf(newest)
    }

    /** Oldest first, as the history screen lists the day. */
    override fun since(sinceUnixSeconds: Long): List<RecordSummary> =
        store().recordsBetween(sinceUnixSeconds, Long.MAX_VALUE).asReversed().map(::summaryOf)

    override fun syncPending(cancellation: CancellationToken?): SyncOutcome {
        val link = enrolments.receiverLink() ?: return SyncOutcome.NotEnrolled
        // The receiver said so already: asking again would only be refused again.
        enrolments.revocation()?.let { return SyncOutcome.Revoked(it) }
        return try {
            val summary = keysWipedAfter { store().sync(configFor(link.baseUrl, link.tlsPin, link.announcedPins), link.receiverKey, null, cancellation) }
            // A rotated receipt key and the TLS pins it signed are kept (one commit) before
            // anything uses them: the next sync connects with those pins, and the manifest and
            // the trust bundle are verified with that key from now on.
            enrolments.keepSyncTrust(summary.newReceiverKey, summary.tlsPins)
            val bundle = summary.trustBundle
            // The sync fetched the items of the next rounds with its own connection (so a
            // manifest still signed by the key a rotation replaced is fetched again); one that
            // does not verify is refused and the kept one stays in use.
            val manifest = summary.manifest
            if (summary.newReceiverKey != null || bundle is TrustBundleUpdate.Kept) trustChanges.incrementAndGet()
            if (manifest is ManifestUpdate.NotUpdated && !manifest.retryable) {
                return SyncOutcome.Failed(retryable = false, detail = "ManifestNotUpdated: ${manifest.detail}")
            }
            SyncOutcome.Done(
                sent = summary.synced.toInt(),
                remaining = summary.pending.toInt(),
                trustOutOfDate = (bundle is TrustBundleUpdate.NotUpdated && bundle.retryable) ||
                    (manifest is ManifestUpdate.NotUpdated && manifest.retryable),
            )
        } catch (e: HonninException.DeviceRevoked) {
            enrolments.rememberRevocation(e.detail)
            SyncOutcome.Revoked(e.detail)
        } catch (e: HonninException) {
            SyncOutcome.Failed(retryable = worthRetrying(e), detail = describe(e))
        }
    }

    /** The trust bundle the last sync kept beside the store, verified with the receipt key kept. */
    override fun keptTrustBundle(): TrustBundle? {
        val link = enrolments.receiverLink() ?: return null
        return keysWipedAfter { store().keptTrustBundle(link.receiverKey) }
    }

    /**
     * The item in the kept manifest (verified on every lookup with the receiver's key), or
     * `null` (the courier types the details) when there is none, it expired, or it does not
     * verify. Reads the store file, so the flow calls it on its worker, never the main thread.
     */
    override fun lookup(itemId: String): ManifestEntry? {
        val link = enrolments.receiverLink() ?: return null
        val item = try {
            keysWipedAfter { store().manifestItem(link.receiverKey, deviceId, itemId) }
        } catch (e: HonninException) {
            null
        }
        return item?.let(::entryOf)
    }

    override fun enrol(receiverUrl: String, code: CharArray, receiverPin: String?): EnrolOutcome {
        val pin = receiverPin?.trim()?.takeIf { it.isNotEmpty() }
        return try {
            // The code exists as a String only for this call; the Rust side wipes its copy.
            val enrolment = keysWipedAfter { store().enrol(configFor(receiverUrl, pin), String(code)) }
            enrolments.remember(ReceiverLink(receiverUrl, enrolment.receiverKey, pin))
            trustChanges.incrementAndGet()
            EnrolOutcome.Enrolled(enrolment.receiverKeyId)
        } catch (e: HonninException) {
            EnrolOutcome.Failed(describe(e))
        } finally {
            code.fill('\u0000')
        }
    }

    /**
     * Pinned to the receiver's TLS pins the device keeps: the set it [announced] last (signed by
     * its receipt key), else the [pin] the operator gave with the code; without either,
     * Android's trust store decides ([PlatformTrust], rustls-platform-verifier). Plain HTTP is
     * never allowed from the app.
     */
    private fun configFor(baseUrl: String, pin: String?, announced: AnnouncedTlsPins? = null) = ReceiverConfig(
        baseUrl = baseUrl,
        deviceId = deviceId,
        receiverPin = if (announced == null) pin else null,
        receiverPins = announced?.pins ?: emptyList(),
        receiverPinsIssuedAt = announced?.issuedAt,
        usePlatformTrust = pin == null && announced == null,
        maxAttempts = attemptsPerSync,
        appVersion = appVersion,
    )

    companion object {
        /**
         * `honnin-android/<versionName>` as the receiver accepts it (printable ASCII, at most
         * 64 characters): a version name with anything else must not stop the device syncing.
         */
        fun appVersion(versionName: String?): String =
            ("honnin-android/" + (versionName ?: "unknown")).filter { it in ' '..'~' }.take(64).trim()

        /**
         * Whether the job should run again with its backoff: an unreachable or busy receiver,
         * or a stopped job. An untrusted TLS key, a refused or revoked device, a receipt key
         * rotation not signed by the trusted key, a receipt that does not verify or a broken
         * store are not cured by waiting.
         */
        fun worthRetrying(e: HonninException): Boolean = when (e) {
            is HonninException.Offline, is HonninException.Cancelled, is HonninException.StoreBusy -> true
            is HonninException.ReceiverRefused -> e.status.toInt() == 408 || e.status.toInt() == 429 || e.status.toInt() >= 500
            else -> false
        }

        /** The kind and the core's detail (which never holds personal data or secrets). */
        fun describe(e: HonninException): String = "${e::class.simpleName}: ${e.message}"

        fun entryOf(item: ManifestItem) = ManifestEntry(
            itemId = item.itemId,
            senderId = item.senderId,
            addressee = Addressee(name = item.addresseeName, address = item.addresseeAddress),
            minimumLevel = item.minLevel,
            attributes = item.attributes,
        )

        fun summaryOf(stored: StoredRecord) = RecordSummary(
            recordId = stored.recordId,
            itemId = stored.itemId,
            senderId = stored.senderId,
            level = stored.level,
            verdict = stored.verdict,
            checkedAtUnixSeconds = stored.recordedAt,
            syncedAtUnixSeconds = stored.syncedAt,
            problem = stored.problem,
        )
    }
}
