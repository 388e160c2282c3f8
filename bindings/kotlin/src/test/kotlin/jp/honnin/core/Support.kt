package jp.honnin.core

import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger

/** The tests' check time, 2026-11-25T00:00:00Z: every fixture is valid then unless meant not to be. */
object TestClock : Clock {
    const val SECONDS = 1_795_564_800L

    override fun nowUnixSeconds(): Long = SECONDS
}

/**
 * A card transport written in Kotlin, as the Android app's IsoDep transport will be: every APDU
 * goes Rust → Kotlin → (here) the software card. Faults are injected on the Kotlin side.
 */
class ForwardingTransport(
    val card: SoftwareCardTransport,
    /** Throw a tag loss, without forwarding, on the first command with this instruction byte. */
    private val loseTagOnIns: Int? = null,
    /** Throw this (not a TransportException) from the n-th transmit, 1-based. */
    private val throwAt: Pair<Int, RuntimeException>? = null,
    /** Milliseconds to wait per exchange, standing in for the air time of NFC. */
    private val delayMillis: Long = 0,
) : CardTransport {
    val transmits = AtomicInteger()
    val reconnects = AtomicInteger()
    val commands: MutableList<ByteArray> = Collections.synchronizedList(mutableListOf())
    private var tagLossDone = false

    override fun capabilities(): TransportCapabilities = card.capabilities()

    override fun transmit(command: ByteArray): ByteArray {
        val n = transmits.incrementAndGet()
        if (delayMillis > 0) Thread.sleep(delayMillis)
        throwAt?.let { (at, error) -> if (n == at) throw error }
        val ins = command[1].toInt() and 0xFF
        if (!tagLossDone && loseTagOnIns == ins) {
            tagLossDone = true
            throw TransportException.TagLost()
        }
        commands.add(command.copyOf())
        return card.transmit(command)
    }

    override fun reconnect() {
        reconnects.incrementAndGet()
        card.reconnect()
    }

    /** Whether a VERIFY carrying data (a PIN or 照合番号B) reached the card. */
    fun sentASecret(): Boolean =
        synchronized(commands) { commands.any { (it[1].toInt() and 0xFF) == 0x20 && it.size > 4 } }
}

/** Collects progress events; optionally acts on each. */
class RecordingListener(private val onEach: (ProgressEvent) -> Unit = {}) : ProgressListener {
    val events: MutableList<ProgressEvent> = Collections.synchronizedList(mutableListOf())

    override fun onEvent(event: ProgressEvent) {
        events.add(event)
        onEach(event)
    }
}

object Fixtures {
    const val PIN_INS = 0x20
    const val SIGN_INS = 0x2A

    /** The test PKI's anchors, from the directory a deployment would configure. */
    val anchors: TrustAnchors by lazy { TrustAnchors.fromDirectory(testAnchorsDirectory()) }

    val verifier: Verifier by lazy { Verifier(anchors, TestClock) }

    val verifierWithCrl: Verifier by lazy { Verifier(anchors, TestClock, testRevocationLists()) }

    /** The test holder as a sender registers them. */
    val addressee = Addressee(
        name = "試験\u3000花子",
        address = "東京都千代田区試験町1-2-3",
        birthDate = Date(1990u, 4u, 1u),
    )

    fun request(addressee: Addressee? = Fixtures.addressee) =
        CheckRequest(itemId = "JP-ITEM-0001", senderId = "test-bank", deviceId = "handheld-01", addressee = addressee)

    fun card(profile: String = "genuine") = SoftwareCardTransport(profile)
}
