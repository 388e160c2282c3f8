package jp.honnin.app.records

import jp.honnin.app.flow.Item
import jp.honnin.core.CancellationToken
import jp.honnin.core.DoorCheckReport
import jp.honnin.core.Level
import jp.honnin.core.Verdict

/**
 * The app's view of the device's proof records: the core's encrypted, device-signed store. The
 * flow and the history screen use only this, so that the store's binding can change without
 * them.
 */
interface ProofRecords {
    /**
     * Signs and stores the record of [report], the check made for [item]; returns once the
     * record is durable (it survives the app being killed from then on).
     */
    fun append(report: DoorCheckReport, item: Item): RecordSummary

    /** Records checked at or after [sinceUnixSeconds], oldest first. */
    fun since(sinceUnixSeconds: Long): List<RecordSummary>
}

/** A stored record as the history screen shows it: no personal data. */
data class RecordSummary(
    val recordId: String,
    val itemId: String,
    val senderId: String,
    /** `null` when the stored record does not read (see [problem]). */
    val level: Level?,
    val verdict: Verdict?,
    val checkedAtUnixSeconds: Long,
    /** When the receiver's signed receipt verified; `null` while the record waits for sync. */
    val syncedAtUnixSeconds: Long?,
    /** Why the stored record does not read (the store is damaged); `null` for a readable one. */
    val problem: String? = null,
) {
    val isSynced: Boolean get() = syncedAtUnixSeconds != null
}

/** Sends the records without a receipt to the sender's receiver. */
interface RecordSync {
    /**
     * Blocks while it talks to the receiver; run it off the main thread (the job does).
     * [cancellation] stops it before its next request; what was acknowledged stays synced.
     */
    fun syncPending(cancellation: CancellationToken? = null): SyncOutcome
}

sealed interface SyncOutcome {
    /**
     * [sent] records got their verified receipt; [remaining] still wait. [trustOutOfDate]: the
     * trust bundle could not be fetched (the receiver was away), so the door check goes on with
     * the one kept before until a later sync.
     */
    data class Done(val sent: Int, val remaining: Int, val trustOutOfDate: Boolean = false) : SyncOutcome
    /** The device is not enrolled with a receiver yet: nothing can be sent. */
    data object NotEnrolled : SyncOutcome
    /** The receiver could not be reached or refused; the job tries again later. */
    data class Failed(val retryable: Boolean, val detail: String) : SyncOutcome
    /**
     * The receiver's operator revoked this device (lost or stolen): nothing more is accepted
     * from it, so the job stops for good; the courier is told to hand the device in. [detail]
     * is the receiver's reason.
     */
    data class Revoked(val detail: String) : SyncOutcome
}

/** Asks for a background sync soon; never blocks (the next check must not wait for the network). */
fun interface SyncRequests {
    fun requestSync()
}
