package jp.honnin.app

import android.content.SharedPreferences
import android.util.Base64
import jp.honnin.app.records.EnrolmentMemory
import jp.honnin.app.records.ReceiverLink
import jp.honnin.core.AnnouncedTlsPins
import java.util.UUID

/**
 * What the device remembers outside the record store: its id (the operator issues the
 * enrolment code for it), the courier using it, and what enrolment left: the receiver's
 * address, its public receipt key and the pin of its TLS key (with the pins the receiver
 * announced since, and the receipt key it rotated to, as syncs learnt them). Nothing secret: the device key
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

    // An app from before announced pins wrote the first three keys only: its enrolment reads
    // as it was (the enrolment's pin, no announced set) and syncs as before, and the first sync
    // that takes announced pins adds the other two. Nothing is rewritten at start-up.
    override fun receiverLink(): ReceiverLink? {
        val url = prefs.getString(RECEIVER_URL, null) ?: return null
        val key = prefs.getString(RECEIVER_KEY, null) ?: return null
        val pins = prefs.getString(RECEIVER_PINS, null)?.split(PIN_SEPARATOR)?.filter { it.isNotBlank() }
        val announced = if (pins.isNullOrEmpty() || !prefs.contains(RECEIVER_PINS_ISSUED_AT)) {
            null
        } else {
            AnnouncedTlsPins(pins, prefs.getLong(RECEIVER_PINS_ISSUED_AT, 0))
        }
        return ReceiverLink(url, Base64.decode(key, Base64.NO_WRAP), prefs.getString(RECEIVER_PIN, null), announced)
    }

    override fun remember(link: ReceiverLink) {
        prefs.edit()
            .putString(RECEIVER_URL, link.baseUrl)
            .putString(RECEIVER_KEY, Base64.encodeToString(link.receiverKey, Base64.NO_WRAP))
            // A re-enrolment without a pin must not keep trusting the old pinned key, nor the
            // pins announced to the enrolment before.
            .putString(RECEIVER_PIN, link.tlsPin)
            .putPins(link.announcedPins)
            .remove(REVOCATION)
            .commit()
    }

    // One commit: SharedPreferences writes the whole file anew, so the old key and pins or the
    // new ones are kept, never a mix and never neither.
    override fun keepSyncTrust(receiverKey: ByteArray?, tlsPins: AnnouncedTlsPins?) {
        if (receiverKey == null && tlsPins == null) return
        val edit = prefs.edit()
        receiverKey?.let { edit.putString(RECEIVER_KEY, Base64.encodeToString(it, Base64.NO_WRAP)) }
        tlsPins?.let { edit.putPins(it) }
        edit.commit()
    }

    private fun SharedPreferences.Editor.putPins(pins: AnnouncedTlsPins?): SharedPreferences.Editor =
        if (pins == null) {
            remove(RECEIVER_PINS).remove(RECEIVER_PINS_ISSUED_AT)
        } else {
            putString(RECEIVER_PINS, pins.pins.joinToString(PIN_SEPARATOR)).putLong(RECEIVER_PINS_ISSUED_AT, pins.issuedAt)
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
        const val RECEIVER_PINS = "receiver_tls_pins"
        const val RECEIVER_PINS_ISSUED_AT = "receiver_tls_pins_issued_at"

        // A pin is `sha256/<base64>`: never a space.
        const val PIN_SEPARATOR = " "
    }
}
