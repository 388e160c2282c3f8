package jp.honnin.app.flow

import jp.honnin.app.records.RecordSummary
import jp.honnin.core.CheckResult
import jp.honnin.core.FaceImages
import jp.honnin.core.Level
import jp.honnin.core.Portrait
import jp.honnin.core.Verdict

/**
 * What the courier sees, one state per screen. Plain Kotlin: the Activity renders these and
 * never decides anything itself. No state holds a secret; [FaceComparison] holds the card-face
 * images only while it is the current state.
 */
sealed interface FlowState {
    /** Typed or scanned item id; [itemNeedingDetails] when the manifest does not know the item. */
    data class ItemEntry(
        val itemNeedingDetails: String? = null,
        val problem: EntryProblem? = null,
    ) : FlowState

    /** The item id is being looked up in the synced manifest (on the worker: it reads the store). */
    data class LookingUpItem(val itemId: String) : FlowState

    /**
     * The levels the courier may choose for [item], weakest first. [preselected] is offered
     * first (the strongest level the flow offers by default, B where it is accepted). A level
     * in [needsConfirmation] is taken only after [DoorCheckFlow.confirmLevel]: when the sender's
     * minimum is not known on the device ([warning]), level A is not chosen by one tap.
     */
    data class LevelChoice(
        val item: Item,
        val accepted: List<Level>,
        val preselected: Level,
        val warning: LevelWarning? = null,
        val needsConfirmation: Set<Level> = emptySet(),
        /** The courier tapped this level of [needsConfirmation]; the screen asks to confirm it. */
        val confirming: Level? = null,
    ) : FlowState

    /** 照合番号B, the PIN or the signing password; the PIN pad screen is secure (FLAG_SECURE). */
    data class SecretEntry(
        val item: Item,
        val level: Level,
        val kind: SecretKind,
        val problem: SecretProblem? = null,
    ) : FlowState

    /** "Hold the card on the back of the device" (at level M: the phone's wallet). */
    data class WaitingForCard(val item: Item, val level: Level) : FlowState

    /** The card is being read: "hold the card still". */
    data class Reading(val item: Item, val level: Level, val progress: ReadProgress) : FlowState

    /** The card left the field and did not come back in time; [retry][DoorCheckFlow.retry] asks again. */
    data class CardLost(val item: Item, val level: Level) : FlowState

    /**
     * Level A: the card is genuine as far as the chip can tell; the courier compares the face
     * photo with the person and confirms or rejects. The images live in memory only and are
     * wiped when the courier decides.
     */
    class FaceComparison(val item: Item, val images: FaceImages) : FlowState {
        override fun toString(): String = "FaceComparison(${item.itemId})"
    }

    /**
     * Level M: the phone's document verified (issuer, device, this session); the courier
     * compares the portrait the issuer signed with the person and confirms or rejects. The
     * portrait lives in memory only and is wiped when the courier decides.
     */
    class PortraitComparison(val item: Item, val portrait: Portrait) : FlowState {
        override fun toString(): String = "PortraitComparison(${item.itemId})"
    }

    /** The verdict, what the courier does next, and the stored record. */
    data class Outcome(
        val item: Item,
        val level: Level,
        val verdict: Verdict,
        val messageEn: String,
        val messageJa: String,
        /** The first failed check, which is what the courier is told first. */
        val failure: CheckResult?,
        val next: NextStep,
        /** `null` only when storing failed ([storeFailure] says why). */
        val record: RecordSummary?,
        val storeFailure: String? = null,
    ) : FlowState

    /** Something the check could not get past (not a verdict about the card). */
    data class Problem(val item: Item?, val level: Level?, val kind: ProblemKind, val detail: String) : FlowState

    /** Today's records and their sync state. */
    data class History(val records: List<RecordSummary>) : FlowState
}

data class ReadProgress(
    val bytesRead: Long = 0,
    /** Known once the file's header told its size. */
    val bytesTotal: Long? = null,
    /** The card left the field; the reader waits for it to come back. */
    val cardAway: Boolean = false,
)

/** Why the level screen warns the courier. */
enum class LevelWarning {
    /**
     * The item is not in the device's manifest (or the manifest expired) and the device knows
     * no policy for its sender: its minimum level is unknown, and the sender sees the level used.
     */
    SENDER_MINIMUM_UNKNOWN,
}

enum class EntryProblem { EMPTY, TOO_LONG, NOT_PRINTABLE, MISSING_DETAILS }

enum class SecretProblem {
    /** Too short, or characters the kind does not allow. */
    INCOMPLETE,
    /** The core refused its shape (never echoed). */
    MALFORMED,
}

/** What the courier does after the verdict. */
enum class NextStep {
    HAND_OVER,
    DO_NOT_HAND_OVER,
    /** A wrong PIN with tries to spare, or the card left after the PIN: ask again. */
    RETRY,
    /** The PIN guard stopped the check to protect the card; the policy accepts level A. */
    OFFER_LEVEL_A,
    /** The PIN guard stopped the check and the policy does not accept level A: counter pick-up. */
    REFER_TO_COUNTER,
}

enum class ProblemKind {
    NOT_A_MY_NUMBER_CARD,
    CARD_UNREADABLE,
    READER,
    INTERNAL,
    /** A phone was tapped while a card level waited; the item accepts level M ([DoorCheckFlow.switchToPhone]). */
    PHONE_INSTEAD_OF_CARD,
    /** A phone was tapped, and the sender's minimum for the item is above level M: the card is needed. */
    PHONE_NOT_ACCEPTED,
    /** A plastic card was tapped while level M (the phone) waited ([DoorCheckFlow.changeLevel]). */
    CARD_INSTEAD_OF_PHONE,
}
