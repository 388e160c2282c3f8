package jp.honnin.app.ui

import android.app.Activity
import android.content.Intent
import android.graphics.Bitmap
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.text.InputType
import android.view.KeyEvent
import android.view.View
import android.view.WindowManager
import android.view.inputmethod.EditorInfo
import android.widget.Button
import android.widget.EditText
import android.widget.FrameLayout
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.ProgressBar
import android.widget.ScrollView
import android.widget.TextView
import jp.honnin.app.HonninApp
import jp.honnin.app.R
import jp.honnin.app.flow.DoorCheckFlow
import jp.honnin.app.flow.EntryProblem
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.LevelWarning
import jp.honnin.app.flow.NextStep
import jp.honnin.app.flow.ProblemKind
import jp.honnin.app.flow.SecretKind
import jp.honnin.app.flow.SecretProblem
import jp.honnin.app.nfc.CardReader
import jp.honnin.core.FaceDecision
import jp.honnin.core.Level
import jp.honnin.core.Verdict
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.util.Locale

/**
 * The courier's one screen: renders each [FlowState] of the [DoorCheckFlow] with framework
 * views and forwards the courier's taps to it. Decides nothing itself.
 */
class MainActivity : Activity() {
    private val main = Handler(Looper.getMainLooper())
    private lateinit var root: FrameLayout
    private lateinit var flow: DoorCheckFlow
    private lateinit var reader: CardReader
    private val shownBitmaps = mutableListOf<Bitmap>()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        root = FrameLayout(this)
        setContentView(root)
        val services = (application as HonninApp).services
        flow = services.newFlow { state -> main.post { render(state) } }
        reader = CardReader(this) { transport -> flow.cardPresented(transport) }
    }

    override fun onResume() {
        super.onResume()
        reader.start()
    }

    override fun onPause() {
        reader.stop()
        super.onPause()
    }

    override fun onDestroy() {
        flow.nextItem()
        recycleBitmaps()
        super.onDestroy()
    }

    private val services get() = (application as HonninApp).services

    private val deviceRevoked: Boolean get() = services.settings.revocation() != null

    private val japanese: Boolean get() = resources.configuration.locales[0].language == Locale.JAPANESE.language

    private fun render(state: FlowState) {
        // Screens with a secret or the holder's data are kept out of screenshots and of the
        // recents thumbnail (which Android writes to disk); the others may show there.
        if (showsSecretOrPersonalData(state)) {
            window.addFlags(WindowManager.LayoutParams.FLAG_SECURE)
        } else {
            window.clearFlags(WindowManager.LayoutParams.FLAG_SECURE)
        }
        if (state !is FlowState.FaceComparison && state !is FlowState.PortraitComparison) recycleBitmaps()
        root.removeAllViews()
        val page = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(32, 32, 32, 32)
        }
        val scroll = ScrollView(this).apply { addView(page) }
        if (state is FlowState.FaceComparison || state is FlowState.PortraitComparison) {
            // The decision stays on screen below the images, however far they scroll.
            val decision = LinearLayout(this).apply {
                orientation = LinearLayout.HORIZONTAL
                setPadding(32, 0, 32, 32)
                val half = { LinearLayout.LayoutParams(0, LinearLayout.LayoutParams.WRAP_CONTENT, 1f) }
                addView(button(getString(R.string.face_confirm)) { flow.confirmFace(FaceDecision.CONFIRMED) }, half())
                addView(button(getString(R.string.face_reject)) { flow.confirmFace(FaceDecision.REJECTED) }, half())
            }
            root.addView(
                LinearLayout(this).apply {
                    orientation = LinearLayout.VERTICAL
                    addView(scroll, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, 0, 1f))
                    addView(decision)
                },
            )
        } else {
            root.addView(scroll)
        }
        when (state) {
            is FlowState.ItemEntry -> itemEntry(page, state)
            is FlowState.LookingUpItem -> {
                page.addView(text(getString(R.string.item_looking_up, state.itemId), large = true))
                page.addView(button(getString(R.string.cancel)) { flow.nextItem() })
            }
            is FlowState.LevelChoice -> levelChoice(page, state)
            is FlowState.SecretEntry -> {
                page.addView(text(getString(secretPrompt(state.kind))))
                state.problem?.let { page.addView(text(getString(secretProblem(it)))) }
                page.addView(PinPadView(this, state.kind) { typed -> flow.submitSecret(typed) })
                page.addView(button(getString(R.string.cancel)) { flow.nextItem() })
            }
            is FlowState.WaitingForCard -> {
                val waiting = if (state.level == Level.M) R.string.waiting_phone_title else R.string.waiting_title
                page.addView(text(getString(if (reader.isAvailable) waiting else R.string.nfc_missing), large = true))
                if (reader.isAvailable && !reader.isEnabled) page.addView(text(getString(R.string.nfc_off)))
                page.addView(button(getString(R.string.cancel)) { flow.nextItem() })
            }
            is FlowState.Reading -> {
                val progress = state.progress
                page.addView(text(getString(if (progress.cardAway) R.string.reading_card_away else R.string.reading_title), large = true))
                page.addView(ProgressBar(this, null, android.R.attr.progressBarStyleHorizontal).apply {
                    val total = progress.bytesTotal
                    isIndeterminate = total == null || total == 0L
                    if (total != null && total > 0) {
                        max = 1000
                        this.progress = (progress.bytesRead * 1000 / total).toInt()
                    }
                })
                progress.bytesTotal?.let { page.addView(text(getString(R.string.reading_progress, progress.bytesRead, it))) }
                page.addView(button(getString(R.string.cancel)) { flow.nextItem() })
            }
            is FlowState.CardLost -> {
                page.addView(text(getString(R.string.card_lost_title), large = true))
                page.addView(button(getString(R.string.retry)) { flow.retry() })
                page.addView(button(getString(R.string.cancel)) { flow.nextItem() })
            }
            is FlowState.FaceComparison -> {
                page.addView(text(getString(R.string.face_title), large = true))
                listOfNotNull(state.images.face, state.images.name, state.images.address).forEach { image ->
                    val bitmap = image.toBitmap().also(shownBitmaps::add)
                    page.addView(ImageView(this).apply {
                        setImageBitmap(bitmap)
                        adjustViewBounds = true
                    })
                }
            }
            is FlowState.PortraitComparison -> {
                page.addView(text(getString(R.string.portrait_title), large = true))
                val bitmap = state.portrait.toBitmap()
                if (bitmap == null) {
                    page.addView(text(getString(R.string.portrait_on_phone), large = true))
                } else {
                    shownBitmaps.add(bitmap)
                    // Large: the full width of the screen, for the courier's comparison at arm's length.
                    page.addView(
                        ImageView(this).apply {
                            setImageBitmap(bitmap)
                            adjustViewBounds = true
                            scaleType = ImageView.ScaleType.FIT_CENTER
                        },
                        LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, LinearLayout.LayoutParams.WRAP_CONTENT),
                    )
                }
            }
            is FlowState.Outcome -> outcome(page, state)
            is FlowState.Problem -> {
                page.addView(text(getString(problemText(state.kind)), large = true))
                when (state.kind) {
                    ProblemKind.PHONE_INSTEAD_OF_CARD -> page.addView(button(getString(R.string.switch_to_phone)) { flow.switchToPhone() })
                    ProblemKind.CARD_INSTEAD_OF_PHONE -> page.addView(button(getString(R.string.change_level)) { flow.changeLevel() })
                    else -> {}
                }
                if (state.item != null && state.level != null) page.addView(button(getString(R.string.retry)) { flow.retry() })
                page.addView(button(getString(R.string.next_item)) { flow.nextItem() })
            }
            is FlowState.History -> {
                page.addView(text(getString(R.string.history_title), large = true))
                if (state.records.isEmpty()) page.addView(text(getString(R.string.history_empty)))
                for (record in state.records) {
                    val line = record.problem?.let { getString(R.string.history_unreadable) } ?: run {
                        val sync = getString(if (record.isSynced) R.string.history_synced else R.string.history_pending)
                        val time = DateTimeFormatter.ofPattern("HH:mm")
                            .format(Instant.ofEpochSecond(record.checkedAtUnixSeconds).atZone(ZoneId.systemDefault()))
                        val level = record.level?.name.orEmpty()
                        val verdict = record.verdict?.let { getString(verdictLabel(it)) }.orEmpty()
                        "$time  ${record.itemId}  $level  $verdict  $sync"
                    }
                    page.addView(text(line))
                }
                page.addView(button(getString(R.string.back)) { flow.nextItem() })
            }
        }
    }

    private fun itemEntry(page: LinearLayout, state: FlowState.ItemEntry) {
        val needsDetails = state.itemNeedingDetails
        if (needsDetails == null) {
            // The receiver's operator revoked this handheld (a sync was told so): say it first.
            if (deviceRevoked) page.addView(text(getString(R.string.device_revoked), large = true))
            page.addView(text(getString(R.string.item_title), large = true))
            // The trust the check will use (bundle, its age, its lists), before any check; filled
            // in from the worker, which may read the store's directory.
            val trustStatus = text("")
            page.addView(trustStatus)
            services.trustState { trust ->
                val lines = TrustStatusText.lines(trust, System.currentTimeMillis() / 1000, ZoneId.systemDefault())
                main.post { trustStatus.text = lines.joinToString("\n") { getString(it.id, *it.args.toTypedArray()) } }
            }
            // Handheld scanners type the barcode into the focused field and press Enter.
            val itemId = field(getString(R.string.item_id_hint), InputType.TYPE_CLASS_TEXT) { flow.enterItem(it) }
            page.addView(itemId)
            state.problem?.let { page.addView(text(getString(entryProblem(it)))) }
            page.addView(button(getString(R.string.item_next)) { flow.enterItem(itemId.text.toString()) })
            page.addView(button(getString(R.string.history_button)) { flow.showHistory() })
            page.addView(button(getString(R.string.enrol_button)) { startActivity(Intent(this, EnrolActivity::class.java)) })
            itemId.requestFocus()
        } else {
            page.addView(text(getString(R.string.details_title, needsDetails)))
            val sender = field(getString(R.string.details_sender_hint), InputType.TYPE_CLASS_TEXT)
            val addressee = field(getString(R.string.details_addressee_hint), InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_VARIATION_PERSON_NAME)
            page.addView(sender)
            page.addView(addressee)
            state.problem?.let { page.addView(text(getString(entryProblem(it)))) }
            page.addView(button(getString(R.string.item_next)) { flow.enterDetails(sender.text.toString(), addressee.text.toString()) })
            page.addView(button(getString(R.string.cancel)) { flow.nextItem() })
        }
    }

    private fun levelChoice(page: LinearLayout, state: FlowState.LevelChoice) {
        page.addView(text(getString(R.string.level_title, state.item.itemId)))
        state.warning?.let { page.addView(text(getString(levelWarning(it)), large = true)) }
        val confirming = state.confirming
        if (confirming != null) {
            page.addView(text(getString(R.string.level_confirm_weaker, levelLabel(confirming))))
            page.addView(button(getString(R.string.level_confirm)) { flow.confirmLevel() })
            page.addView(button(getString(R.string.back)) { flow.backToLevels() })
            return
        }
        // The preselected level on top, marked; the others below it, weakest first.
        page.addView(button(getString(R.string.level_recommended, levelLabel(state.preselected))) { flow.chooseLevel(state.preselected) })
        for (level in state.accepted - state.preselected) page.addView(button(levelLabel(level)) { flow.chooseLevel(level) })
        page.addView(button(getString(R.string.cancel)) { flow.nextItem() })
    }

    private fun outcome(page: LinearLayout, state: FlowState.Outcome) {
        page.addView(text(if (japanese) state.messageJa else state.messageEn, large = true))
        state.failure?.let { page.addView(text(if (japanese) it.messageJa else it.messageEn)) }
        page.addView(text(getString(nextStepText(state.next)), large = true))
        page.addView(
            text(state.record?.let { getString(R.string.outcome_record_stored, it.recordId.take(8)) } ?: getString(R.string.outcome_record_failed)),
        )
        when (state.next) {
            NextStep.RETRY -> page.addView(button(getString(R.string.retry)) { flow.retry() })
            NextStep.OFFER_LEVEL_A -> page.addView(button(getString(R.string.switch_to_level_a)) { flow.switchToLevelA() })
            else -> {}
        }
        page.addView(button(getString(R.string.next_item)) { flow.nextItem() })
    }

    private fun recycleBitmaps() {
        shownBitmaps.forEach { it.recycle() }
        shownBitmaps.clear()
    }

    private fun text(value: String, large: Boolean = false) = TextView(this).apply {
        text = value
        textSize = if (large) 24f else 18f
        setPadding(0, 16, 0, 16)
    }

    private fun button(label: String, onClick: () -> Unit) = Button(this).apply {
        text = label
        textSize = 20f
        setOnClickListener { onClick() }
    }

    private fun field(hint: String, type: Int, onEnter: ((String) -> Unit)? = null) = EditText(this).apply {
        this.hint = hint
        inputType = type
        isSingleLine = true
        imeOptions = EditorInfo.IME_ACTION_NEXT
        if (onEnter != null) {
            setOnEditorActionListener { view, _, event ->
                if (event == null || event.keyCode == KeyEvent.KEYCODE_ENTER) {
                    onEnter(view.text.toString())
                    true
                } else {
                    false
                }
            }
        }
        importantForAutofill = View.IMPORTANT_FOR_AUTOFILL_NO
    }

    private fun showsSecretOrPersonalData(state: FlowState): Boolean = when (state) {
        is FlowState.SecretEntry, is FlowState.FaceComparison, is FlowState.PortraitComparison, is FlowState.Outcome,
        is FlowState.LevelChoice -> true
        else -> false
    }

    private fun verdictLabel(verdict: Verdict): Int = when (verdict) {
        Verdict.GENUINE -> R.string.history_verdict_genuine
        Verdict.FORGED -> R.string.history_verdict_forged
        Verdict.INCONCLUSIVE -> R.string.history_verdict_inconclusive
        Verdict.REFUSED -> R.string.history_verdict_refused
        Verdict.NOT_ADDRESSEE -> R.string.history_verdict_not_addressee
    }

    private fun levelLabel(level: Level): String = getString(
        when (level) {
            Level.A -> R.string.level_a
            Level.B -> R.string.level_b
            Level.C -> R.string.level_c
            Level.M -> R.string.level_m
        },
    )

    companion object {
        fun secretPrompt(kind: SecretKind): Int = when (kind) {
            SecretKind.MATCHING_NUMBER_B -> R.string.secret_matching_number_b
            SecretKind.AUTH_PIN -> R.string.secret_auth_pin
            SecretKind.SIGNING_PASSWORD -> R.string.secret_signing_password
        }

        fun secretProblem(problem: SecretProblem): Int = when (problem) {
            SecretProblem.INCOMPLETE -> R.string.secret_problem_incomplete
            SecretProblem.MALFORMED -> R.string.secret_problem_malformed
        }

        fun levelWarning(warning: LevelWarning): Int = when (warning) {
            LevelWarning.SENDER_MINIMUM_UNKNOWN -> R.string.level_warning_sender_unknown
        }

        fun entryProblem(problem: EntryProblem): Int = when (problem) {
            EntryProblem.EMPTY -> R.string.item_problem_empty
            EntryProblem.TOO_LONG -> R.string.item_problem_too_long
            EntryProblem.NOT_PRINTABLE -> R.string.item_problem_not_printable
            EntryProblem.MISSING_DETAILS -> R.string.details_problem_missing
        }

        fun nextStepText(next: NextStep): Int = when (next) {
            NextStep.HAND_OVER -> R.string.outcome_hand_over
            NextStep.DO_NOT_HAND_OVER -> R.string.outcome_do_not_hand_over
            NextStep.RETRY -> R.string.outcome_retry
            NextStep.OFFER_LEVEL_A -> R.string.outcome_offer_level_a
            NextStep.REFER_TO_COUNTER -> R.string.outcome_refer_to_counter
        }

        fun problemText(kind: ProblemKind): Int = when (kind) {
            ProblemKind.NOT_A_MY_NUMBER_CARD -> R.string.problem_not_a_my_number_card
            ProblemKind.CARD_UNREADABLE -> R.string.problem_card_unreadable
            ProblemKind.READER -> R.string.problem_reader
            ProblemKind.INTERNAL -> R.string.problem_internal
            ProblemKind.PHONE_INSTEAD_OF_CARD -> R.string.problem_phone_instead_of_card
            ProblemKind.PHONE_NOT_ACCEPTED -> R.string.problem_phone_not_accepted
            ProblemKind.CARD_INSTEAD_OF_PHONE -> R.string.problem_card_instead_of_phone
        }
    }
}
