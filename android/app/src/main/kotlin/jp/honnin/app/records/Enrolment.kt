package jp.honnin.app.records

import jp.honnin.core.AnnouncedTlsPins

/** Enrolment of this device with the sender's receiver, by the one-time code the operator gave. */
interface ReceiverEnrolment {
    /**
     * Blocks on the network; run it off the main thread. [code] is wiped when this returns.
     * [receiverPin] is the receiver's TLS key pin (`sha256/<base64>`) the operator handed out
     * with the code: enrolment and every later sync accept only that key. Without one the
     * receiver needs a certificate from a public web CA.
     */
    fun enrol(receiverUrl: String, code: CharArray, receiverPin: String?): EnrolOutcome
}

sealed interface EnrolOutcome {
    /** The receiver knows this device's key; [receiverKeyId] is shown to compare with the operator's. */
    data class Enrolled(val receiverKeyId: String) : EnrolOutcome
    data class Failed(val detail: String) : EnrolOutcome
}

/**
 * What enrolment leaves on the device for every sync; all of it public. [tlsPin] `null` means
 * the receiver was enrolled over a public web CA, not pinned. [announcedPins]: the receiver's
 * TLS key pins as the last sync took them (signed by its receipt key), which replace [tlsPin]
 * so the operator can switch the receiver's TLS key without enrolling the device again; `null`
 * until a sync took some (and always for an enrolment from before the app knew them).
 */
class ReceiverLink(
    val baseUrl: String,
    val receiverKey: ByteArray,
    val tlsPin: String?,
    val announcedPins: AnnouncedTlsPins? = null,
) {
    /** The pins a sync trusts: the announced set once there is one, else the enrolment's pin. */
    val trustedPins: List<String> get() = announcedPins?.pins ?: listOfNotNull(tlsPin)

    override fun toString(): String =
        "ReceiverLink($baseUrl, pinned=${tlsPin != null}, announced pins=${announcedPins?.pins?.size ?: 0})"
}

/** Where the device keeps its [ReceiverLink] (SharedPreferences on the device). */
interface EnrolmentMemory {
    fun receiverLink(): ReceiverLink?

    /**
     * Durable when it returns. A new enrolment (a replacement device) also forgets a
     * [revocation] of the one before, and the pins announced to it.
     */
    fun remember(link: ReceiverLink)

    /**
     * What a sync learnt, kept in one durable write (a device killed before it learns both
     * again at its next sync, since the receiver serves every rotation and its pins each time):
     * [receiverKey], when the receiver rotated its receipt key and the rotation was signed by
     * the key kept so far, replaces it; [tlsPins], the receiver's TLS pins that key signed,
     * replace the pins kept (the enrolment's or the last announced ones). `null` leaves each
     * as it is.
     */
    fun keepSyncTrust(receiverKey: ByteArray?, tlsPins: AnnouncedTlsPins?)

    /** Why the receiver's operator revoked this device, once a sync was told; `null` otherwise. */
    fun revocation(): String?

    /** Durable when it returns: from now on the device does not sync until it is enrolled anew. */
    fun rememberRevocation(detail: String)
}
