package jp.honnin.app.ui

import android.app.Activity
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.text.InputType
import android.view.View
import android.view.WindowManager
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.TextView
import jp.honnin.app.HonninApp
import jp.honnin.app.R
import jp.honnin.app.records.EnrolOutcome
import kotlin.concurrent.thread

/**
 * The one-time code flow: the operator issues a code for this device id and hands it out with
 * the pin of the receiver's TLS key (`honnin-receiver tls-pin`); the courier (or the operator)
 * types the receiver's address, the code, the pin and the courier's id once. Enrolment and
 * every later sync accept only the pinned key. The screen is secure while the code is on it.
 */
class EnrolActivity : Activity() {
    private val main = Handler(Looper.getMainLooper())

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.addFlags(WindowManager.LayoutParams.FLAG_SECURE)
        val services = (application as HonninApp).services
        val status = TextView(this)
        val url = EditText(this).apply {
            hint = getString(R.string.enrol_url_hint)
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_VARIATION_URI
            setText(services.settings.receiverUrl ?: "")
        }
        val code = EditText(this).apply {
            hint = getString(R.string.enrol_code_hint)
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_VARIATION_PASSWORD
            importantForAutofill = View.IMPORTANT_FOR_AUTOFILL_NO
        }
        val pin = EditText(this).apply {
            hint = getString(R.string.enrol_pin_hint)
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_NO_SUGGESTIONS
            importantForAutofill = View.IMPORTANT_FOR_AUTOFILL_NO
        }
        val courier = EditText(this).apply {
            hint = getString(R.string.enrol_courier_hint)
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_NO_SUGGESTIONS
            setText(services.settings.courierId.takeIf { it != services.settings.deviceId } ?: "")
        }
        val start = Button(this).apply { text = getString(R.string.enrol_start) }
        start.setOnClickListener {
            val typed = code.text
            val chars = CharArray(typed.length) { typed[it] }
            typed.clear()
            start.isEnabled = false
            val receiverUrl = url.text.toString().trim()
            val receiverPin = pin.text.toString().trim().takeIf { it.isNotEmpty() }
            courier.text.toString().trim().takeIf { it.isNotEmpty() }?.let { services.settings.courierId = it }
            thread(name = "honnin-enrol") {
                val outcome = services.enrolment.enrol(receiverUrl, chars, receiverPin)
                if (outcome is EnrolOutcome.Enrolled) services.syncRequests.requestSync()
                main.post {
                    start.isEnabled = true
                    status.text = when (outcome) {
                        is EnrolOutcome.Enrolled -> "${getString(R.string.enrol_done)}\n${outcome.receiverKeyId}"
                        is EnrolOutcome.Failed -> getString(R.string.enrol_failed, outcome.detail)
                    }
                }
            }
        }
        setContentView(
            LinearLayout(this).apply {
                orientation = LinearLayout.VERTICAL
                setPadding(32, 32, 32, 32)
                addView(TextView(this@EnrolActivity).apply { text = getString(R.string.enrol_title) })
                addView(TextView(this@EnrolActivity).apply { text = services.settings.deviceId })
                addView(url)
                addView(code)
                addView(pin)
                addView(courier)
                addView(start)
                addView(status)
            },
        )
    }
}
