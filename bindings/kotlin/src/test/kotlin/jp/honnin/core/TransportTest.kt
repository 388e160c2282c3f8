package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread

/** Tag loss, failing callbacks and cancellation, as they cross the bridge. */
class TransportTest {
    @Test
    fun `a tag loss thrown from the Kotlin transport is reported and the read resumes`() {
        // The software card leaves the field before exchange 4 (inside the first EF read); its
        // TransportException.TagLost passes through the Kotlin transport unchanged.
        val card = Fixtures.card("tag-loss:4")
        val transport = ForwardingTransport(card)
        val listener = RecordingListener()
        val report = Fixtures.verifier.checkLevelB(transport, Fixtures.request(), card.secrets().authPin, listener)

        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        assertEquals(1u, report.counters().tagLosses)
        assertEquals(1, transport.reconnects.get())
        val lost = listener.events.indexOfFirst { it is ProgressEvent.TagLost }
        val resumed = listener.events.indexOfFirst { it is ProgressEvent.Resumed }
        assertEquals(ProgressEvent.TagLost(1u, 3u), listener.events[lost])
        assertTrue(resumed > lost, listener.events.toString())
    }

    @Test
    fun `a tag loss after the PIN ends the check, and a retry on the same card succeeds`() {
        val card = Fixtures.card()
        val lostWhileSigning = ForwardingTransport(card, loseTagOnIns = Fixtures.SIGN_INS)
        val report = Fixtures.verifier.checkLevelB(lostWhileSigning, Fixtures.request(), card.secrets().authPin)
        assertEquals(Verdict.INCONCLUSIVE, report.verdict())
        val communication = report.check(CheckId.CARD_COMMUNICATION)!!
        assertEquals(CheckState.FAILED, communication.state)
        assertEquals("card_removed", communication.reasonCode)
        // The accepted PIN cost nothing.
        assertEquals(3u, card.triesLeft(TestPin.AUTH))

        val retry = Fixtures.verifier.checkLevelB(ForwardingTransport(card), Fixtures.request(), card.secrets().authPin)
        assertEquals(Verdict.GENUINE, retry.verdict(), retry.checks().toString())
    }

    @Test
    fun `a card that never comes back is a TagLost exception when reading`() {
        val card = Fixtures.card()
        val alwaysLost = object : CardTransport by ForwardingTransport(card) {
            var calls = 0
            override fun transmit(command: ByteArray): ByteArray {
                calls++
                if (calls >= 2) throw TransportException.TagLost()
                return card.transmit(command)
            }
        }
        val listener = RecordingListener()
        val error = assertThrows<HonninException.TagLost> { readCard(alwaysLost, listener) }
        assertTrue(error.detail.contains("hold it still"), error.detail)
        assertEquals(3, listener.events.count { it is ProgressEvent.TagLost })
    }

    @Test
    fun `an unexpected exception in a callback is CallbackFailed naming the method`() {
        val card = Fixtures.card()
        val broken = ForwardingTransport(card, throwAt = 3 to IllegalStateException("IsoDep is closed"))
        val error = assertThrows<HonninException.CallbackFailed> {
            Fixtures.verifier.checkLevelB(broken, Fixtures.request(), card.secrets().authPin)
        }
        assertEquals("CardTransport.transmit", error.method)
        assertTrue(error.detail.contains("IsoDep is closed"), error.detail)
        assertEquals(3, broken.transmits.get(), "the check stopped at the failing exchange")

        val brokenClock = object : Clock {
            override fun nowUnixSeconds(): Long = throw ArithmeticException("no time")
        }
        val clockError = assertThrows<HonninException.CallbackFailed> {
            Verifier(Fixtures.anchors, brokenClock).checkLevelB(ForwardingTransport(card), Fixtures.request(), "2468")
        }
        assertEquals("Clock.nowUnixSeconds", clockError.method)

        val brokenListener = RecordingListener { throw IllegalArgumentException("UI gone") }
        val listenerError = assertThrows<HonninException.CallbackFailed> {
            readCard(ForwardingTransport(card), brokenListener)
        }
        assertEquals("ProgressListener.onEvent", listenerError.method)
        assertEquals(1, brokenListener.events.size, "stopped after the failing event")
        assertEquals(3u, card.triesLeft(TestPin.AUTH))
    }

    @Test
    fun `a link failure from capabilities keeps its kind`() {
        val noCard = object : CardTransport by ForwardingTransport(Fixtures.card()) {
            override fun capabilities(): TransportCapabilities = throw TransportException.NoCard()
        }
        assertThrows<HonninException.NoCard> { readCard(noCard) }
    }

    @Test
    fun `cancelling from the progress listener stops before the PIN is sent`() {
        val card = Fixtures.card()
        val transport = ForwardingTransport(card)
        val token = CancellationToken()
        val listener = RecordingListener { if (it is ProgressEvent.Reading) token.cancel() }
        assertThrows<HonninException.Cancelled> {
            Fixtures.verifier.checkLevelB(transport, Fixtures.request(), card.secrets().authPin, listener, token)
        }
        assertFalse(transport.sentASecret())
        assertEquals(3u, card.triesLeft(TestPin.AUTH))

        // A token cancelled beforehand: the card is never touched.
        val untouched = ForwardingTransport(Fixtures.card())
        assertThrows<HonninException.Cancelled> { readCard(untouched, null, token) }
        assertEquals(0, untouched.transmits.get())
    }

    @Test
    fun `cancelling from another thread stops a running check`() {
        val card = Fixtures.card()
        val transport = ForwardingTransport(card, delayMillis = 5)
        val token = CancellationToken()
        val started = CountDownLatch(1)
        val listener = RecordingListener { started.countDown() }
        var outcome: Throwable? = null
        val worker = thread {
            outcome = runCatching {
                Fixtures.verifier.checkLevelC(transport, Fixtures.request(), card.secrets().signPassword, listener, token)
            }.exceptionOrNull()
        }
        assertTrue(started.await(10, TimeUnit.SECONDS))
        token.cancel()
        worker.join(10_000)
        assertTrue(outcome is HonninException.Cancelled, "$outcome")
        assertEquals(5u, card.triesLeft(TestPin.SIGN))
    }
}
