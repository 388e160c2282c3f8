package jp.honnin.app.ui

import android.content.Context
import android.text.InputType
import android.view.Gravity
import android.view.View
import android.widget.Button
import android.widget.GridLayout
import android.widget.LinearLayout
import android.widget.TextView
import jp.honnin.app.R
import jp.honnin.app.flow.SecretBuffer
import jp.honnin.app.flow.SecretKind

/**
 * Keys for a secret, typed into a [SecretBuffer] and never into a `TextView` or an IME: no
 * keyboard learns it, no accessibility text holds it, nothing logs it. The display shows one
 * dot per character. Letters (signing password) come from a second row of keys.
 *
 * The Activity sets FLAG_SECURE while this is on screen (no screenshots, no recents thumbnail).
 */
class PinPadView(
    context: Context,
    kind: SecretKind,
    private val onDone: (SecretBuffer) -> Unit,
) : LinearLayout(context) {
    private var buffer = SecretBuffer(kind)
    private val dots = TextView(context).apply {
        textSize = 32f
        gravity = Gravity.CENTER
        // The dots say how many, never what; keep them out of accessibility announcements.
        importantForAccessibility = View.IMPORTANT_FOR_ACCESSIBILITY_NO
        inputType = InputType.TYPE_NULL
    }

    init {
        orientation = VERTICAL
        addView(dots)
        val keys = GridLayout(context).apply { columnCount = 3 }
        for (digit in "123456789") keys.addView(key(digit.toString()) { type(digit) })
        keys.addView(key(context.getString(R.string.secret_backspace)) { buffer.backspace(); refresh() })
        keys.addView(key("0") { type('0') })
        keys.addView(key(context.getString(R.string.secret_ok)) { submit() })
        addView(keys)
        if (kind == SecretKind.SIGNING_PASSWORD) {
            val letters = GridLayout(context).apply { columnCount = 7 }
            for (letter in 'A'..'Z') letters.addView(key(letter.toString()) { type(letter) })
            addView(letters)
        }
        refresh()
    }

    private fun key(label: String, onPress: () -> Unit) = Button(context).apply {
        text = label
        textSize = 24f
        // Key presses make no sound or haptic pattern that differs per key.
        isSoundEffectsEnabled = false
        isHapticFeedbackEnabled = false
        setOnClickListener { onPress() }
    }

    private fun type(c: Char) {
        buffer.append(c)
        refresh()
    }

    private fun submit() {
        val typed = buffer
        buffer = SecretBuffer(typed.kind)
        refresh()
        onDone(typed)
    }

    private fun refresh() {
        dots.text = "●".repeat(buffer.length)
    }

    /** Leaving the screen wipes what was typed and not submitted. */
    override fun onDetachedFromWindow() {
        buffer.wipe()
        super.onDetachedFromWindow()
    }
}
