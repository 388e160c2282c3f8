package jp.honnin.app

import android.nfc.TagLostException
import jp.honnin.app.flow.DoorCheckFlow
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.ItemDirectory
import jp.honnin.app.flow.SenderPolicies
import jp.honnin.app.nfc.IsoDepLink
import jp.honnin.app.records.ProofRecords
import jp.honnin.core.Clock
import jp.honnin.core.PhoneVerifier
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.TrustAnchors
import jp.honnin.core.Verifier
import jp.honnin.core.testAnchorsDirectory
import java.io.IOException
import java.time.ZoneId
import java.util.Collections
import java.util.concurrent.Executors
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import org.junit.jupiter.api.Assertions.fail

/** The tests' check time, 2026-11-25T00:00:00Z (every fixture is valid then). */
object TestClock : Clock {
    const val SECONDS = 1_795_564_800L

    override fun nowUnixSeconds(): Long = SECONDS
}

object Fixtures {
    val verifier: Verifier by lazy { Verifier(TrustAnchors.fromDirectory(testAnchorsDirectory()), TestClock) }
    val tokyo: ZoneId = ZoneId.of("Asia/Tokyo")
    /** The software card's holder, as a sender registers them. */
    val holder = jp.honnin.core.Addressee(
        name = "試験\u3000花子",
        address = "東京都千代田区試験町1-2-3",
        birthDate = jp.honnin.core.Date(1990u, 4u, 1u),
    )
    const val DEVICE_ID = "handheld-01"
}

/**
 * `IsoDep` as a phone's NFC controller presents the software card: it carries extended-length
 * APDUs only when it says so, refuses commands over [maxTransceiveLength] with IsoDep's own
 * IOException, and can lose the tag (android.nfc.TagLostException, the real class) on chosen
 * exchanges. After a loss the tag is gone: connecting fails until reader mode finds the card
 * again, which [rediscovered] models as a new tag object over the same card.
 */
class FakeIsoDep(
    val card: SoftwareCardTransport,
    override val isExtendedLengthApduSupported: Boolean = true,
    override val maxTransceiveLength: Int = if (isExtendedLengthApduSupported) 65_546 else 261,
    /** 1-based exchange numbers of this tag object on which the card leaves the field. */
    private val loseOn: Set<Int> = emptySet(),
    val log: ExchangeLog = ExchangeLog(),
) : IsoDepLink {
    private var connected = false
    private var gone = false
    private val exchanges = AtomicInteger()
    var timeoutMillis = 0
        private set

    override val isConnected: Boolean get() = connected

    override fun connect() {
        if (gone) throw IOException("Tag is out of range")
        connected = true
    }

    override fun close() {
        connected = false
    }

    override fun setTimeout(millis: Int) {
        timeoutMillis = millis
    }

    override fun transceive(command: ByteArray): ByteArray {
        check(connected) { "Call connect() first!" }
        if (command.size > maxTransceiveLength) throw IOException("Transceive length exceeds supported maximum")
        if (!isExtendedLengthApduSupported && isExtended(command)) throw IOException("Transceive failed")
        if (exchanges.incrementAndGet() in loseOn) {
            gone = true
            connected = false
            throw TagLostException("Tag was lost.")
        }
        val response = card.transmit(command)
        if (!isExtendedLengthApduSupported && response.size > 258) throw IOException("Transceive failed")
        log.record(command, response)
        return response
    }

    /** The same card, found again by reader mode: a new tag object, and the card powered anew. */
    fun rediscovered(loseOn: Set<Int> = emptySet()): FakeIsoDep {
        card.reconnect()
        return FakeIsoDep(card, isExtendedLengthApduSupported, maxTransceiveLength, loseOn, log)
    }

    companion object {
        /** ISO 7816-4 extended length: a 0x00 byte where a short APDU has Lc or Le. */
        fun isExtended(command: ByteArray): Boolean = command.size > 5 && command[4].toInt() == 0
    }
}

/** What reached the card, across tag objects. */
class ExchangeLog {
    val commands: MutableList<ByteArray> = Collections.synchronizedList(mutableListOf())
    val responseSizes: MutableList<Int> = Collections.synchronizedList(mutableListOf())

    fun record(command: ByteArray, response: ByteArray) {
        commands.add(command.copyOf())
        responseSizes.add(response.size)
    }

    /** A VERIFY that carried a PIN or 照合番号B. */
    fun sentASecret(): Boolean = synchronized(commands) { commands.any { (it[1].toInt() and 0xFF) == 0x20 && it.size > 4 } }
}

/** A flow on a real worker thread, its states queued for the test to wait on. */
class FlowHarness(
    directory: ItemDirectory,
    policies: SenderPolicies,
    val records: ProofRecords,
    /** The phone check (level M); `null` as on a device without the phone issuers' anchors. */
    phoneVerifier: PhoneVerifier? = null,
) : AutoCloseable {
    /** Sync requests the flow made (it must make one per stored record, and never wait on it). */
    val syncRequests = AtomicInteger()
    private val states = LinkedBlockingQueue<FlowState>()
    private val worker = Executors.newSingleThreadExecutor()
    val flow = DoorCheckFlow(
        verifiers = { Fixtures.verifier },
        phoneVerifier = phoneVerifier,
        directory = directory,
        policies = policies,
        records = records,
        syncRequests = { syncRequests.incrementAndGet() },
        deviceId = Fixtures.DEVICE_ID,
        clock = TestClock,
        zone = Fixtures.tokyo,
        worker = worker,
        onState = { states.add(it) },
    )
    val seen: MutableList<FlowState> = Collections.synchronizedList(mutableListOf())

    /** Waits for the next state of type [T] that [matches], skipping others (progress updates). */
    inline fun <reified T : FlowState> await(seconds: Long = 30, matches: (T) -> Boolean = { true }): T {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (true) {
            val left = deadline - System.nanoTime()
            val next = poll(left) ?: fail("no ${T::class.simpleName} within $seconds s; seen: $seen")
            if (next is T && matches(next)) return next
        }
    }

    fun poll(nanos: Long): FlowState? = states.poll(maxOf(nanos, 0), TimeUnit.NANOSECONDS)?.also { seen.add(it) }

    override fun close() {
        worker.shutdownNow()
    }
}
