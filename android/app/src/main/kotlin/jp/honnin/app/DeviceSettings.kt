package jp.honnin.app

import android.content.SharedPreferences
import android.util.Base64
import java.util.UUID

/**
 * What the device remembers outside the record store: its id (the operator issues the
 * enrolment code for it), the receiver's address and the receiver's public receipt key from
 * enrolment. Nothing secret: the device key stays in Keystore, the store key is wrapped.
 */
class DeviceSettings(private val prefs: SharedPreferences) {
    val deviceId: String
        @Synchronized get() = prefs.getString(DEVICE_ID, null)
            ?: "android-${UUID.randomUUID()}".also { prefs.edit().putString(DEVICE_ID, it).apply() }

    val receiverUrl: String? get() = prefs.getString(RECEIVER_URL, null)

    val receiverKey: ByteArray? get() = prefs.getString(RECEIVER_KEY, null)?.let { Base64.decode(it, Base64.NO_WRAP) }

    fun enrolled(receiverUrl: String, receiverKey: ByteArray) {
        prefs.edit()
            .putString(RECEIVER_URL, receiverUrl)
            .putString(RECEIVER_KEY, Base64.encodeToString(receiverKey, Base64.NO_WRAP))
            .commit()
    }

    private companion object {
        const val DEVICE_ID = "device_id"
        const val RECEIVER_URL = "receiver_url"
        const val RECEIVER_KEY = "receiver_key"
    }
}
