package jp.honnin.app.flow

import jp.honnin.app.records.ProofRecords
import jp.honnin.app.records.RecordSummary
import jp.honnin.app.records.SyncRequests
import jp.honnin.core.CancellationToken
import jp.honnin.core.CardTransport
import jp.honnin.core.CheckRequest
import jp.honnin.core.Clock
import jp.honnin.core.DoorCheckReport
import jp.honnin.core.FaceDecision
import jp.honnin.core.HonninException
import jp.honnin.core.Level
import jp.honnin.core.PendingFaceConfirmation
import jp.honnin.core.ProgressEvent
import jp.honnin.core.ProgressListener
import jp.honnin.core.Verdict
import jp.honnin.core.Verifier
import java.time.Instant
import java.time.ZoneId
import java.util.concurrent.Executor

/**
 * The courier's door check as a state machine: item → level → secret → card → verdict → record.
 *
 * Plain Kotlin with no Android type, so that it runs on the JVM against the real core. Calls
 * come from the UI thread and from the NFC thread ([cardPresented]); the card work and every
 * store call (manifest lookup, record, history) run on [worker]. Every new state goes to
 * [onState], from whichever thread made it, under the flow's lock: the listener must hand it
 * to its own thread and not call back in.
 *
 * Secrets: the typed [SecretBuffer] is kept until the card arrives, handed to the core once,
 * and wiped; leaving the check by any path wipes it too.
 */
class DoorCheckFlow(
    /**
     * The verifier for the next check, asked once per check on the worker: the app's answers
     * the trust bundle the last sync kept (see `DeviceTrust`), so a long-lived flow checks
     * revocation with the newest lists.
     */
    private val verifiers: () -> Verifier,
    private val directory: ItemDirectory,
    private val policies: SenderPolicies,
    private val records: ProofRecords,
    private val syncRequests: SyncRequests,
    private val deviceId: String,
    private val clock: Clock,
    private val zone: ZoneId,
    private val worker: Executor,
    private val onState: (FlowState) -> Unit,
) {
    private val lock = Any()
    private var current: FlowState = FlowState.ItemEntry()
    private var secret: SecretBuffer? = null
    private var running: RunningCheck? = null
    private var pendingFace: PendingFaceConfirmation? = null

    /** The check in progress: its token cancels it, and progress of an older one is ignored. */
    private class RunningCheck(val item: Item, val level: Level, val token: CancellationToken)

    val state: FlowState get() = synchronized(lock) { current }

    init {
        onState(current)
    }

    private fun move(next: FlowState) {
        current = next
        onState(next)
    }

    /**
     * The item id was typed or scanned. The manifest lookup reads the store, so it runs on the
     * worker; meanwhile the flow shows [FlowState.LookingUpItem] and ignores a second entry.
     */
    fun enterItem(rawItemId: String) {
        val looking: FlowState.LookingUpItem
        synchronized(lock) {
            if (current !is FlowState.ItemEntry) return
            val itemId = rawItemId.trim()
            val problem = itemIdProblem(itemId)
            if (problem != null) return move(FlowState.ItemEntry(problem = problem))
            looking = FlowState.LookingUpItem(itemId)
            move(looking)
        }
        worker.execute {
            val entry = try {
                directory.lookup(looking.itemId)
            } catch (e: Exception) {
                // A store that cannot be read is a manifest that does not know the item: the
                // courier types the details, and the level screen warns (never a crashed worker).
                null
            }
            synchronized(lock) {
                // Dropped when the courier left (next item) while the lookup ran.
                if (current !== looking) return@execute
                if (entry == null) {
                    move(FlowState.ItemEntry(itemNeedingDetails = looking.itemId))
                } else {
                    chooseLevelFor(Item(entry.itemId, entry.senderId, entry.addressee, entry.minimumLevel, entry.attributes))
                }
            }
        }
    }

    /** The manifest did not know the item: the courier typed the sender and addressee from its label. */
    fun enterDetails(senderId: String, addresseeName: String) = synchronized(lock) {
        val entry = current as? FlowState.ItemEntry ?: return
        val itemId = entry.itemNeedingDetails ?: return
        val sender = senderId.trim()
        val name = addresseeName.trim()
        if (sender.isEmpty() || name.isEmpty()) {
            return move(entry.copy(problem = EntryProblem.MISSING_DETAILS))
        }
        chooseLevelFor(Item(itemId, sender, jp.honnin.core.Addressee(name = name)))
    }

    private fun chooseLevelFor(item: Item, confirming: Level? = null) {
        move(levelChoiceFor(item).copy(confirming = confirming))
    }

    /**
     * A known minimum offers that level and stronger ones. An unknown one offers every level,
     * warns, and asks for a confirmation before level A: nothing falls back silently to a
     * weaker level. Level B is offered first wherever it is accepted.
     */
    private fun levelChoiceFor(item: Item): FlowState.LevelChoice {
        val minimum = minimumFor(item)
        val accepted = acceptedLevels(minimum ?: Level.A)
        val preselected = if (Level.B in accepted) Level.B else accepted.first()
        return if (minimum == null) {
            FlowState.LevelChoice(item, accepted, preselected, LevelWarning.SENDER_MINIMUM_UNKNOWN, setOf(Level.A))
        } else {
            FlowState.LevelChoice(item, accepted, preselected)
        }
    }

    /** The item's own minimum from the manifest, else the sender's; `null` when neither is known. */
    private fun minimumFor(item: Item): Level? = item.minimumLevel ?: policies.minimumLevel(item.senderId)

    /**
     * The courier tapped a level. One that needs confirmation only moves to the confirmation
     * (tapping it again there changes nothing, so a double tap does not confirm it).
     */
    fun chooseLevel(level: Level) = synchronized(lock) {
        val choice = current as? FlowState.LevelChoice ?: return
        if (level !in choice.accepted) return
        if (level in choice.needsConfirmation) {
            if (choice.confirming != level) move(choice.copy(confirming = level))
            return
        }
        move(FlowState.SecretEntry(choice.item, level, SecretKind.forLevel(level)))
    }

    /** The courier confirmed the level the confirmation screen named. */
    fun confirmLevel() = synchronized(lock) {
        val choice = current as? FlowState.LevelChoice ?: return
        val level = choice.confirming ?: return
        move(FlowState.SecretEntry(choice.item, level, SecretKind.forLevel(level)))
    }

    /** Back from the confirmation to the level list. */
    fun backToLevels() = synchronized(lock) {
        val choice = current as? FlowState.LevelChoice ?: return
        if (choice.confirming != null) move(choice.copy(confirming = null))
    }

    /**
     * The secret was typed. The flow owns [typed] from now on and wipes it after its one use;
     * an incomplete one is wiped at once and asked for again.
     */
    fun submitSecret(typed: SecretBuffer) = synchronized(lock) {
        val entry = current as? FlowState.SecretEntry
        if (entry == null || typed.kind != entry.kind) {
            typed.wipe()
            return
        }
        if (!typed.isComplete) {
            typed.wipe()
            return move(entry.copy(problem = SecretProblem.INCOMPLETE))
        }
        wipeSecret()
        secret = typed
        move(FlowState.WaitingForCard(entry.item, entry.level))
    }

    /**
     * A card was tapped. Starts the check on the worker and returns `true` when the flow was
     * waiting for one; otherwise the card is ignored (a tap on the verdict screen does nothing).
     */
    fun cardPresented(transport: CardTransport): Boolean {
        val check: RunningCheck
        val typed: SecretBuffer
        synchronized(lock) {
            val waiting = current as? FlowState.WaitingForCard ?: return false
            typed = secret ?: return false
            secret = null
            check = RunningCheck(waiting.item, waiting.level, CancellationToken())
            running = check
            move(FlowState.Reading(waiting.item, waiting.level, ReadProgress()))
        }
        worker.execute { runCheck(check, transport, typed) }
        return true
    }

    private fun runCheck(check: RunningCheck, transport: CardTransport, typed: SecretBuffer) {
        val request = CheckRequest(check.item.itemId, check.item.senderId, deviceId, check.item.addressee)
        val listener = ProgressForwarder(check)
        try {
            val verifier = verifiers()
            when (check.level) {
                Level.A -> {
                    val pending = typed.useOnce {
                        verifier.checkLevelA(transport, request, it, listener, check.token)
                    }
                    awaitFace(check, pending)
                }
                Level.B -> finish(check, typed.useOnce {
                    verifier.checkLevelB(transport, request, it, listener, check.token)
                })
                Level.C -> finish(check, typed.useOnce {
                    verifier.checkLevelC(transport, request, it, listener, check.token)
                })
                // Never chosen: acceptedLevels() does not offer the phone level to the card flow.
                Level.M -> Unit
            }
        } catch (e: HonninException) {
            failed(check, e)
        } finally {
            typed.wipe()
        }
    }

    /** Level A after the card: a forged card is forged whatever the courier would say. */
    private fun awaitFace(check: RunningCheck, pending: PendingFaceConfirmation) {
        if (pending.cardVerdict() != Verdict.GENUINE) {
            finish(check, pending.confirm(FaceDecision.NOT_GIVEN))
            return
        }
        val images = pending.images()
        synchronized(lock) {
            if (running !== check) return
            pendingFace = pending
            move(FlowState.FaceComparison(check.item, images))
        }
    }

    /** The courier compared the face photo (level A). */
    fun confirmFace(decision: FaceDecision) {
        val check: RunningCheck
        val pending: PendingFaceConfirmation
        synchronized(lock) {
            val face = current as? FlowState.FaceComparison ?: return
            check = running ?: return
            pending = pendingFace ?: return
            pendingFace = null
            wipeImages(face)
            move(FlowState.Reading(check.item, check.level, ReadProgress()))
        }
        worker.execute {
            try {
                finish(check, pending.confirm(decision))
            } catch (e: HonninException) {
                failed(check, e)
            }
        }
    }

    /** Stores the record first (it must survive a kill once the courier saw the verdict), then shows it. */
    private fun finish(check: RunningCheck, report: DoorCheckReport) {
        var stored: RecordSummary? = null
        var storeFailure: String? = null
        try {
            stored = records.append(report, check.item)
            syncRequests.requestSync()
        } catch (e: Exception) {
            // The verdict still stands; the courier is told the record is missing.
            storeFailure = e.toString()
        }
        val failure = report.firstFailure()
        val outcome = FlowState.Outcome(
            item = check.item,
            level = check.level,
            verdict = report.verdict(),
            messageEn = report.verdictMessageEn(),
            messageJa = report.verdictMessageJa(),
            failure = failure,
            next = nextStep(report.verdict(), failure?.reasonCode, check.item),
            record = stored,
            storeFailure = storeFailure,
        )
        synchronized(lock) {
            if (running !== check) return
            running = null
            move(outcome)
        }
    }

    private fun nextStep(verdict: Verdict, reason: String?, item: Item): NextStep = when {
        verdict == Verdict.GENUINE -> NextStep.HAND_OVER
        reason == "pin_guard_refused" ->
            // An unknown minimum offers A too, through the confirmation ([switchToLevelA]).
            if (Level.A in levelChoiceFor(item).accepted) NextStep.OFFER_LEVEL_A
            else NextStep.REFER_TO_COUNTER
        reason == "wrong_pin" || reason == "card_removed" -> NextStep.RETRY
        else -> NextStep.DO_NOT_HAND_OVER
    }

    private fun failed(check: RunningCheck, error: HonninException) {
        val next = when (error) {
            is HonninException.Cancelled -> FlowState.SecretEntry(check.item, check.level, SecretKind.forLevel(check.level))
            is HonninException.TagLost,
            is HonninException.SecurityStateLost,
            is HonninException.NoCard,
            is HonninException.Timeout -> FlowState.CardLost(check.item, check.level)
            is HonninException.InvalidSecret -> FlowState.SecretEntry(
                check.item, check.level, SecretKind.forLevel(check.level), SecretProblem.MALFORMED,
            )
            is HonninException.NotAMyNumberCard -> FlowState.Problem(check.item, check.level, ProblemKind.NOT_A_MY_NUMBER_CARD, error.detail)
            is HonninException.CardRefused -> FlowState.Problem(check.item, check.level, ProblemKind.CARD_UNREADABLE, error.detail)
            is HonninException.CardDataMalformed -> FlowState.Problem(check.item, check.level, ProblemKind.CARD_UNREADABLE, error.detail)
            is HonninException.ReaderFailed -> FlowState.Problem(check.item, check.level, ProblemKind.READER, error.detail)
            else -> FlowState.Problem(check.item, check.level, ProblemKind.INTERNAL, error.toString())
        }
        synchronized(lock) {
            if (running !== check) return
            running = null
            move(next)
        }
    }

    /** Reading progress for the courier ("hold the card still"); events of an older check are dropped. */
    private inner class ProgressForwarder(private val check: RunningCheck) : ProgressListener {
        override fun onEvent(event: ProgressEvent) = synchronized(lock) {
            val reading = current as? FlowState.Reading ?: return
            if (running !== check) return
            val progress = when (event) {
                is ProgressEvent.Reading -> ReadProgress(event.read.toLong(), event.total?.toLong(), cardAway = false)
                is ProgressEvent.TagLost -> reading.progress.copy(cardAway = true)
                is ProgressEvent.Resumed -> reading.progress.copy(cardAway = false)
                is ProgressEvent.ResponseSizeReduced, ProgressEvent.ExtendedLengthDisabled -> return
            }
            if (progress != reading.progress) move(reading.copy(progress = progress))
        }
    }

    /**
     * After a lost card, a wrong PIN or a cancelled read: the same item and level again. The
     * secret is asked again, since the last one was wiped after its use.
     */
    fun retry() = synchronized(lock) {
        val (item, level) = when (val s = current) {
            is FlowState.CardLost -> s.item to s.level
            is FlowState.Outcome -> if (s.next == NextStep.RETRY) s.item to s.level else return
            is FlowState.Problem -> (s.item ?: return) to (s.level ?: return)
            else -> return
        }
        move(FlowState.SecretEntry(item, level, SecretKind.forLevel(level)))
    }

    /**
     * After the PIN guard refused: the check without a PIN, where the policy accepts it. When
     * the sender's minimum is unknown, the level screen asks the courier to confirm level A
     * with its warning first.
     */
    fun switchToLevelA() = synchronized(lock) {
        val outcome = current as? FlowState.Outcome ?: return
        if (outcome.next != NextStep.OFFER_LEVEL_A) return
        if (Level.A in levelChoiceFor(outcome.item).needsConfirmation) return chooseLevelFor(outcome.item, confirming = Level.A)
        move(FlowState.SecretEntry(outcome.item, Level.A, SecretKind.MATCHING_NUMBER_B))
    }

    /** Back to item entry from anywhere; a running read is cancelled and any secret wiped. */
    fun nextItem() = synchronized(lock) {
        running?.token?.cancel()
        running = null
        pendingFace?.let { discard(it) }
        pendingFace = null
        (current as? FlowState.FaceComparison)?.let(::wipeImages)
        wipeSecret()
        move(FlowState.ItemEntry())
    }

    /** Today's records (in [zone]) with their sync state; read on the worker. */
    fun showHistory() {
        synchronized(lock) {
            if (current !is FlowState.ItemEntry) return
        }
        worker.execute {
            val now = clock.nowUnixSeconds()
            val startOfDay = Instant.ofEpochSecond(now).atZone(zone).toLocalDate().atStartOfDay(zone).toEpochSecond()
            val today = try {
                records.since(startOfDay)
            } catch (e: Exception) {
                synchronized(lock) { move(FlowState.Problem(null, null, ProblemKind.INTERNAL, e.toString())) }
                return@execute
            }
            synchronized(lock) {
                if (current is FlowState.ItemEntry || current is FlowState.History) move(FlowState.History(today))
            }
        }
    }

    private fun wipeSecret() {
        secret?.wipe()
        secret = null
    }

    private fun discard(pending: PendingFaceConfirmation) {
        // Confirming wipes the images on the Rust side; the report is dropped unrecorded, as the
        // courier walked away before deciding.
        worker.execute { runCatching { pending.confirm(FaceDecision.NOT_GIVEN) } }
    }

    private fun wipeImages(face: FlowState.FaceComparison) {
        listOfNotNull(face.images.face, face.images.name, face.images.address).forEach { it.rgba.fill(0) }
    }

    companion object {
        const val MAX_ITEM_ID_LENGTH = 64

        fun itemIdProblem(itemId: String): EntryProblem? = when {
            itemId.isEmpty() -> EntryProblem.EMPTY
            itemId.length > MAX_ITEM_ID_LENGTH -> EntryProblem.TOO_LONG
            itemId.any { it < ' ' || it > '~' } -> EntryProblem.NOT_PRINTABLE
            else -> null
        }
    }
}
