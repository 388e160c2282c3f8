package jp.honnin.app.records

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
 * the receiver was enrolled over a public web CA, not pinned.
 */
class ReceiverLink(val baseUrl: String, val receiverKey: ByteArray, val tlsPin: String?) {
    override fun toString(): String = "ReceiverLink($baseUrl, pinned=${tlsPin != null})"
}

/** Where the device keeps its [ReceiverLink] (SharedPreferences on the device). */
interface EnrolmentMemory {
    fun receiverLink(): ReceiverLink?

    /**
     * Durable when it returns. A new enrolment (a replacement device) also forgets a
     * [revocation] of the one before.
     */
    fun remember(link: ReceiverLink)

    /**
     * The receiver rotated its receipt key and sync followed the rotation, signed by the key
     * kept so far: [key] replaces it, in one durable write (a device killed before it learns the
     * same rotation again at its next sync, since the receiver serves every rotation).
     */
    fun replaceReceiverKey(key: ByteArray)

    /** Why the receiver's operator revoked this device, once a sync was told; `null` otherwise. */
    fun revocation(): String?

    /** Durable when it returns: from now on the device does not sync until it is enrolled anew. */
    fun rememberRevocation(detail: String)
}
