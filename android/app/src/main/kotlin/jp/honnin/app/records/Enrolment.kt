package jp.honnin.app.records

/** Enrolment of this device with the sender's receiver, by the one-time code the operator gave. */
interface ReceiverEnrolment {
    /** Blocks on the network; run it off the main thread. [code] is wiped when this returns. */
    fun enrol(receiverUrl: String, deviceId: String, code: CharArray): EnrolOutcome
}

sealed interface EnrolOutcome {
    /** The receiver knows this device's key; [receiverKeyId] is shown to compare with the operator's. */
    data class Enrolled(val receiverKeyId: String) : EnrolOutcome
    data class Failed(val detail: String) : EnrolOutcome
}
