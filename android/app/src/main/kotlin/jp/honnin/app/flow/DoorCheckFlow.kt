package jp.honnin.app.flow

import jp.honnin.app.records.ProofRecords
import jp.honnin.app.records.RecordSummary
import jp.honnin.app.records.SyncRequests
import jp.honnin.core.CancellationToken
import jp.honnin.core.CardTransport
import jp.honnin.core.CheckRequest
import jp.honnin.core.Clock
import jp.honnin.core.CredentialKind
import jp.honnin.core.DoorCheckReport
import jp.honnin.core.FaceDecision
import jp.honnin.core.HonninException
import jp.honnin.core.Level
import jp.honnin.core.PendingFaceConfirmation
import jp.honnin.core.PendingPortraitConfirmation
import jp.honnin.core.PhoneEngagement
import jp.honnin.core.PhoneVerifier
import jp.honnin.core.ProgressEvent
import jp.honnin.core.ProgressListener
import jp.honnin.core.Verdict
import jp.honnin.core.Verifier
import jp.honnin.core.detectCredential
import java.time.Instant
import java.time.ZoneId
import java.util.concurrent.Executor

/**
 * The courier's door check as a state machine: item → level → secret → card → verdict → record;
 * at level M (the card in a phone's wallet) item → level → phone → portrait → verdict → record,
 * with no secret.
 *
 * Plain Kotlin with no Android type, so that it runs on the JVM against the real core. Calls
 * come from the UI thread and from the NFC thread ([cardPresented]); the card work and every
 * store call (manifest lookup, record, history) run on [worker]. Every new state goes to
 * [onState], from whichever thread made it, under the flow's lock: the listener must hand it
 * to its own thread and not call back in.
 *
 * Secrets: the typed [SecretBuffer] is kept until the card arrives, handed to the core once,
 * and wiped; leaving the check by any path wipes it too.
 *
 * Card or phone: every tag is first asked which application it has ([detectCredential], SELECT
 * commands only). A phone at a card level, or a card at level M, never starts a session: the
 * courier is told, and switches level only by a tap (a phone is never taken silently in place of
 * the PIN the courier chose). [phoneVerifier] is `null` when the device has no phone issuers'
 * anchors: level M is then not offered.
 */
class DoorCheckFlow(
    /**
     * The verifier for the next check, asked once per check on the worker: the app's answers
     * the trust bundle the last sync kept (see `DeviceTrust`), so a long-lived flow checks
     * revocation with the newest lists.
     */
    private val verifiers: () -> Verifier,
    private val phoneVerifier: PhoneVerifier? = null,
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
    private var pendingPortrait: PendingPortraitConfirmation? = null

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
        val accepted = acceptedLevels(minimum ?: Level.A, phones = phoneVerifier != null)
        val preselected = if (Level.B in accepted) Level.B else accepted.first()
        return if (minimum == null) {
            FlowState.LevelChoice(
                item, accepted, preselected, LevelWarning.SENDER_MINIMUM_UNKNOWN, LEVELS_WITHOUT_PIN intersect accepted.toSet(),
            )
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
        move(firstStepOf(choice.item, level))
    }

    /** What follows the level: the secret for a card level, the tag at once for the phone. */
    private fun firstStepOf(item: Item, level: Level, problem: SecretProblem? = null): FlowState =
        if (level == Level.M) {
            FlowState.WaitingForCard(item, level)
        } else {
            FlowState.SecretEntry(item, level, SecretKind.forLevel(level), problem)
        }

    /** The courier confirmed the level the confirmation screen named. */
    fun confirmLevel() = synchronized(lock) {
        val choice = current as? FlowState.LevelChoice ?: return
        val level = choice.confirming ?: return
        move(firstStepOf(choice.item, level))
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
        val typed: SecretBuffer?
        synchronized(lock) {
            val waiting = current as? FlowState.WaitingForCard ?: return false
            typed = secret
            if (typed == null && waiting.level != Level.M) return false
            secret = null
            check = RunningCheck(waiting.item, waiting.level, CancellationToken())
            running = check
            move(FlowState.Reading(waiting.item, waiting.level, ReadProgress()))
        }
        worker.execute {
            try {
                route(check, transport, typed)
            } finally {
                typed?.wipe()
            }
        }
        return true
    }

    /** Card or phone: the matching check, or the courier is told before any session starts. */
    private fun route(check: RunningCheck, transport: CardTransport, typed: SecretBuffer?) {
        val kind = try {
            detectCredential(transport, check.token)
        } catch (e: HonninException) {
            return failed(check, e)
        }
        val phones = phoneVerifier
        val mismatch = when {
            kind == CredentialKind.UNKNOWN -> ProblemKind.NOT_A_MY_NUMBER_CARD
            kind == CredentialKind.PHONE && check.level != Level.M ->
                if (phones != null && Level.M in levelChoiceFor(check.item).accepted) ProblemKind.PHONE_INSTEAD_OF_CARD
                else ProblemKind.PHONE_NOT_ACCEPTED
            kind == CredentialKind.MY_NUMBER_CARD && check.level == Level.M -> ProblemKind.CARD_INSTEAD_OF_PHONE
            else -> null
        }
        if (mismatch != null) {
            // Wiped before the courier is told (not only in the worker's finally): once the
            // screen says the tag was refused, no copy of the PIN is left.
            typed?.wipe()
            return stopped(check, FlowState.Problem(check.item, check.level, mismatch, kind.name))
        }
        when {
            check.level == Level.M && phones != null -> runPhoneCheck(check, phones, transport)
            check.level != Level.M && typed != null -> runCheck(check, transport, typed)
            // Not reachable (level M is offered only with a phone verifier, and a card level
            // starts only with its secret), but a flow never hangs in Reading.
            else -> stopped(check, FlowState.Problem(check.item, check.level, ProblemKind.INTERNAL, "no check for level ${check.level}"))
        }
    }

    /** Level M: no secret; the portrait to the courier when the phone's document verified. */
    private fun runPhoneCheck(check: RunningCheck, phones: PhoneVerifier, transport: CardTransport) {
        val item = check.item
        val request = CheckRequest(item.itemId, item.senderId, deviceId, item.addressee)
        try {
            val pending = phones.checkPhone(transport, request, item.attributes, PhoneEngagement.Nfc, check.token)
            val portrait = pending.portrait()
            if (pending.cardVerdict() != Verdict.GENUINE || portrait == null) {
                finish(check, pending.confirm(FaceDecision.NOT_GIVEN))
                return
            }
            synchronized(lock) {
                if (running !== check) {
                    // The courier left meanwhile: wipe both copies; the report is dropped unrecorded.
                    portrait.bytes.fill(0)
                    runCatching { pending.confirm(FaceDecision.NOT_GIVEN) }
                    return
                }
                pendingPortrait = pending
                move(FlowState.PortraitComparison(item, portrait))
            }
        } catch (e: HonninException) {
            failed(check, e)
        }
    }

    private fun stopped(check: RunningCheck, next: FlowState) = synchronized(lock) {
        if (running !== check) return
        running = null
        move(next)
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
                // Routed to runPhoneCheck before a card check could start.
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

    /** The courier compared the face photo (level A) or the phone's portrait (level M). */
    fun confirmFace(decision: FaceDecision) {
        val check: RunningCheck
        val confirm: () -> DoorCheckReport
        synchronized(lock) {
            check = running ?: return
            when (val shown = current) {
                is FlowState.FaceComparison -> {
                    val pending = pendingFace ?: return
                    pendingFace = null
                    wipeImages(shown)
                    confirm = { pending.confirm(decision) }
                }
                is FlowState.PortraitComparison -> {
                    val pending = pendingPortrait ?: return
                    pendingPortrait = null
                    wipePortrait(shown)
                    confirm = { pending.confirm(decision) }
                }
                else -> return
            }
            move(FlowState.Reading(check.item, check.level, ReadProgress()))
        }
        worker.execute {
            try {
                finish(check, confirm())
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
            is HonninException.Cancelled -> firstStepOf(check.item, check.level)
            is HonninException.TagLost,
            is HonninException.SecurityStateLost,
            is HonninException.NoCard,
            is HonninException.Timeout -> FlowState.CardLost(check.item, check.level)
            is HonninException.InvalidSecret -> firstStepOf(check.item, check.level, SecretProblem.MALFORMED)
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
        move(firstStepOf(item, level))
    }

    /**
     * A phone was tapped while a card level waited, and the item accepts level M: the courier
     * chose to check the phone. An unknown sender minimum asks to confirm level M first.
     */
    fun switchToPhone() = synchronized(lock) {
        val problem = current as? FlowState.Problem ?: return
        if (problem.kind != ProblemKind.PHONE_INSTEAD_OF_CARD) return
        val item = problem.item ?: return
        wipeSecret()
        if (Level.M in levelChoiceFor(item).needsConfirmation) return chooseLevelFor(item, confirming = Level.M)
        move(FlowState.WaitingForCard(item, Level.M))
    }

    /** Back to the level list for the same item (a card was tapped where a phone was expected). */
    fun changeLevel() = synchronized(lock) {
        val problem = current as? FlowState.Problem ?: return
        val item = problem.item ?: return
        wipeSecret()
        chooseLevelFor(item)
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
        pendingPortrait?.let { pending -> worker.execute { runCatching { pending.confirm(FaceDecision.NOT_GIVEN) } } }
        pendingPortrait = null
        (current as? FlowState.FaceComparison)?.let(::wipeImages)
        (current as? FlowState.PortraitComparison)?.let(::wipePortrait)
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

    private fun wipePortrait(shown: FlowState.PortraitComparison) {
        shown.portrait.bytes.fill(0)
        shown.portrait.decoded?.rgba?.fill(0)
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
