package jp.honnin.app

import android.content.SharedPreferences
import android.util.Base64
import jp.honnin.app.records.EnrolmentMemory
import jp.honnin.app.records.ReceiverLink
import java.util.UUID

/**
 * What the device remembers outside the record store: its id (the operator issues the
 * enrolment code for it), the courier using it, and what enrolment left: the receiver's
 * address, its public receipt key and the pin of its TLS key. Nothing secret: the device key
 * stays in Keystore, the store key is wrapped.
 */
class DeviceSettings(private val prefs: SharedPreferences) : EnrolmentMemory {
    val deviceId: String
        @Synchronized get() = prefs.getString(DEVICE_ID, null)
            ?: "android-${UUID.randomUUID()}".also { prefs.edit().putString(DEVICE_ID, it).apply() }

    /** The courier named at enrolment; the device id until one is named. */
    var courierId: String
        get() = prefs.getString(COURIER_ID, null) ?: deviceId
        set(value) {
            prefs.edit().putString(COURIER_ID, value).commit()
        }

    val receiverUrl: String? get() = prefs.getString(RECEIVER_URL, null)

    override fun receiverLink(): ReceiverLink? {
        val url = prefs.getString(RECEIVER_URL, null) ?: return null
        val key = prefs.getString(RECEIVER_KEY, null) ?: return null
        return ReceiverLink(url, Base64.decode(key, Base64.NO_WRAP), prefs.getString(RECEIVER_PIN, null))
    }

    override fun remember(link: ReceiverLink) {
        prefs.edit()
            .putString(RECEIVER_URL, link.baseUrl)
            .putString(RECEIVER_KEY, Base64.encodeToString(link.receiverKey, Base64.NO_WRAP))
            // A re-enrolment without a pin must not keep trusting the old pinned key.
            .putString(RECEIVER_PIN, link.tlsPin)
            .remove(REVOCATION)
            .commit()
    }

    // One commit: SharedPreferences writes the whole file anew, so the old key or the new one
    // is kept, never neither.
    override fun replaceReceiverKey(key: ByteArray) {
        prefs.edit().putString(RECEIVER_KEY, Base64.encodeToString(key, Base64.NO_WRAP)).commit()
    }

    override fun revocation(): String? = prefs.getString(REVOCATION, null)

    override fun rememberRevocation(detail: String) {
        prefs.edit().putString(REVOCATION, detail).commit()
    }

    private companion object {
        const val DEVICE_ID = "device_id"
        const val COURIER_ID = "courier_id"
        const val RECEIVER_URL = "receiver_url"
        const val RECEIVER_KEY = "receiver_key"
        const val RECEIVER_PIN = "receiver_tls_pin"
        const val REVOCATION = "device_revoked"
    }
}
