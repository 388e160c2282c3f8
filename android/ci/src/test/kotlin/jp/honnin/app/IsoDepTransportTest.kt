package jp.honnin.app

import jp.honnin.app.nfc.IsoDepTransport
import jp.honnin.app.nfc.TagHandoff
import jp.honnin.core.CheckRequest
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.TransportException
import jp.honnin.core.Verdict
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import kotlin.concurrent.thread

/** The IsoDep transport, driving the software card through the real bindings and core. */
class IsoDepTransportTest {
    private val request = CheckRequest("JP-ITEM-0001", "test-bank", Fixtures.DEVICE_ID, Fixtures.holder)

    private fun levelB(tag: FakeIsoDep, handoff: TagHandoff = TagHandoff()) =
        Fixtures.verifier.checkLevelB(IsoDepTransport(tag, handoff, returnWaitMillis = 2_000), request, tag.card.secrets().authPin)

    @Test
    fun `with extended length the photo-sized files come in few commands`() {
        val tag = FakeIsoDep(SoftwareCardTransport("genuine"), isExtendedLengthApduSupported = true)
        val transport = IsoDepTransport(tag, TagHandoff())
        assertEquals(true, transport.capabilities().extendedLength)
        assertEquals(65_546u, transport.capabilities().maxResponseLen)
        assertEquals(IsoDepTransport.DEFAULT_TIMEOUT_MILLIS, tag.timeoutMillis, "the generous timeout is set on connect")

        val report = Fixtures.verifier.checkLevelB(transport, request, tag.card.secrets().authPin)
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        assertTrue(tag.log.commands.any { FakeIsoDep.isExtended(it) }, "READ BINARY used extended Le")
        assertTrue(tag.log.responseSizes.any { it > 258 }, "a response longer than a short APDU allows")
    }

    @Test
    fun `without extended length the core reads in short APDUs and still succeeds`() {
        val short = FakeIsoDep(SoftwareCardTransport("genuine"), isExtendedLengthApduSupported = false)
        val report = levelB(short)
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        assertFalse(short.log.commands.any { FakeIsoDep.isExtended(it) }, "no extended APDU on a short-only link")
        assertTrue(short.log.responseSizes.all { it <= 258 })

        val extended = FakeIsoDep(SoftwareCardTransport("genuine"), isExtendedLengthApduSupported = true)
        levelB(extended)
        assertTrue(
            short.log.commands.size >= extended.log.commands.size + 5,
            "short: ${short.log.commands.size} APDUs, extended: ${extended.log.commands.size}",
        )
    }

    @Test
    fun `a lost tag is TagLost, and the read resumes when reader mode finds the card again`() {
        val card = SoftwareCardTransport("genuine")
        // Exchange 5 is inside the first certificate read.
        val tag = FakeIsoDep(card, loseOn = setOf(5))
        val handoff = TagHandoff()
        // Reader mode discovers the returning card a moment later, on its own thread.
        val returning = thread {
            while (tag.isConnected || tag.log.commands.size < 4) Thread.sleep(5)
            Thread.sleep(50)
            handoff.offer(tag.rediscovered())
        }
        val report = levelB(tag, handoff)
        returning.join()
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        assertEquals(1u, report.counters().tagLosses)
    }

    @Test
    fun `TagLostException becomes the bindings' tag-lost error, and oversize commands are refused unsent`() {
        val tag = FakeIsoDep(SoftwareCardTransport("genuine"), maxTransceiveLength = 261, loseOn = setOf(1))
        val transport = IsoDepTransport(tag, TagHandoff(), returnWaitMillis = 10)
        val select = byteArrayOf(0x00, 0xA4.toByte(), 0x04, 0x0C, 0x0A, 0xD3.toByte(), 0x92.toByte(), 0xF0.toByte(), 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01)
        assertThrows<TransportException.TagLost> { transport.transmit(select) }
        // The card does not come back within the wait: the core hears TagLost again.
        assertThrows<TransportException.TagLost> { transport.reconnect() }

        val fresh = FakeIsoDep(SoftwareCardTransport("genuine"), isExtendedLengthApduSupported = false)
        val sized = IsoDepTransport(fresh, TagHandoff())
        assertThrows<TransportException.LengthNotSupported> { sized.transmit(ByteArray(262)) }
        assertTrue(fresh.log.commands.isEmpty(), "nothing reached the card")
    }
}
