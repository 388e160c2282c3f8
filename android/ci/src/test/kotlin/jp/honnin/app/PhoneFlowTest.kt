package jp.honnin.app

import android.nfc.TagLostException
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.ManifestDirectory
import jp.honnin.app.flow.ManifestEntry
import jp.honnin.app.flow.NextStep
import jp.honnin.app.flow.PolicyTable
import jp.honnin.app.flow.ProblemKind
import jp.honnin.app.flow.SecretBuffer
import jp.honnin.app.flow.SecretKind
import jp.honnin.app.nfc.IsoDepLink
import jp.honnin.app.nfc.IsoDepTransport
import jp.honnin.app.nfc.TagHandoff
import jp.honnin.core.CheckId
import jp.honnin.core.FaceDecision
import jp.honnin.core.Level
import jp.honnin.core.PhoneIssuerAnchors
import jp.honnin.core.PhoneVerifier
import jp.honnin.core.PortraitFormat
import jp.honnin.core.RecordAttributes
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.SoftwarePhoneTransport
import jp.honnin.core.TransportException
import jp.honnin.core.Verdict
import jp.honnin.core.testPhoneAnchorsDirectory
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File

/**
 * `IsoDep` as a phone's NFC controller presents the software phone (a holder's phone with the
 * card in its wallet): extended length, and `android.nfc.TagLostException` once the phone
 * stops answering, as a phone taken away does.
 */
class FakePhoneIsoDep(val phone: SoftwarePhoneTransport, val log: ExchangeLog = ExchangeLog()) : IsoDepLink {
    private var connected = false
    override val isConnected: Boolean get() = connected
    override val isExtendedLengthApduSupported: Boolean = true
    override val maxTransceiveLength: Int = 65_546

    override fun connect() {
        connected = true
    }

    override fun close() {
        connected = false
    }

    override fun setTimeout(millis: Int) {}

    override fun transceive(command: ByteArray): ByteArray {
        check(connected) { "Call connect() first!" }
        val response = try {
            phone.transmit(command)
        } catch (e: TransportException.TagLost) {
            connected = false
            throw TagLostException("Tag was lost.")
        }
        log.record(command, response)
        return response
    }
}

/** The courier's flow with a phone on the tag: level M end to end, and phones and cards kept apart. */
class PhoneFlowTest {
    private val holder = Fixtures.holder
    private val phoneVerifier = PhoneVerifier(PhoneIssuerAnchors.fromDirectory(testPhoneAnchorsDirectory()), TestClock)
    private val noPolicies = PolicyTable(emptyMap())

    private fun items(minimum: Level) = ManifestDirectory(
        listOf(ManifestEntry("JP-0001", "test-bank", holder, minimumLevel = minimum, attributes = RecordAttributes(name = true))),
    )

    private fun tap(h: FlowHarness, tag: IsoDepLink) =
        assertTrue(h.flow.cardPresented(IsoDepTransport(tag, TagHandoff(), returnWaitMillis = 200)))

    private fun insOf(log: ExchangeLog): List<Int> = log.commands.map { it[1].toInt() and 0xFF }

    @Test
    fun `a phone on the tag runs level M to a stored record, without a PIN, after the courier's look`(@TempDir dir: File) {
        val records = RealRecords(dir).core
        FlowHarness(items(Level.A), noPolicies, records, phoneVerifier).use { h ->
            h.flow.enterItem("JP-0001")
            val choice = h.await<FlowState.LevelChoice>()
            assertEquals(listOf(Level.A, Level.M, Level.B, Level.C), choice.accepted, "M ranks between A and B")
            assertEquals(Level.B, choice.preselected)
            h.flow.chooseLevel(Level.M)
            assertEquals(Level.M, h.await<FlowState.WaitingForCard>().level)
            assertTrue(h.seen.none { it is FlowState.SecretEntry }, "no PIN pad for the phone")

            val tag = FakePhoneIsoDep(SoftwarePhoneTransport("mdoc-genuine"))
            tap(h, tag)
            val comparison = h.await<FlowState.PortraitComparison>()
            assertEquals(PortraitFormat.JPEG2000, comparison.portrait.format)
            assertTrue(comparison.portrait.decoded!!.width > 0u)
            assertFalse(comparison.toString().contains("1990"))
            // Detection first (JPKI, then the mdoc application), then the phone's own engagement.
            assertEquals(listOf(0xA4, 0xA4), insOf(tag.log).take(2))
            assertTrue(0xC3 in insOf(tag.log), "the session ran over ENVELOPE")

            h.flow.confirmFace(FaceDecision.CONFIRMED)
            val outcome = h.await<FlowState.Outcome>()
            assertEquals(Verdict.GENUINE, outcome.verdict, outcome.toString())
            assertEquals(Level.M, outcome.level)
            assertEquals(NextStep.HAND_OVER, outcome.next)
            assertEquals("受取人本人の真正なカードです。お渡しください。", outcome.messageJa)
            assertTrue(outcome.messageEn.isNotBlank())
            assertTrue(comparison.portrait.bytes.all { it.toInt() == 0 }, "the portrait was wiped once the courier decided")
            assertTrue(comparison.portrait.decoded!!.rgba.all { it.toInt() == 0 })
            val stored = records.since(0).single()
            assertEquals(outcome.record?.recordId, stored.recordId)
            assertEquals(Level.M, stored.level)
            assertEquals(Verdict.GENUINE, stored.verdict)
            assertEquals(1, h.syncRequests.get(), "the record is synced like the others")
        }
    }

    @Test
    fun `a card on the tag still runs the card flow when phones are checked too`(@TempDir dir: File) {
        FlowHarness(items(Level.A), noPolicies, RealRecords(dir).core, phoneVerifier).use { h ->
            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.B)
            h.await<FlowState.SecretEntry>()
            val card = SoftwareCardTransport("genuine")
            h.flow.submitSecret(SecretBuffer(SecretKind.AUTH_PIN).apply { card.secrets().authPin.forEach { append(it) } })
            h.await<FlowState.WaitingForCard>()
            val tag = FakeIsoDep(card)
            tap(h, tag)
            val outcome = h.await<FlowState.Outcome>()
            assertEquals(Verdict.GENUINE, outcome.verdict, outcome.toString())
            assertEquals(Level.B, outcome.level)
            assertEquals(0xA4, insOf(tag.log).first(), "one SELECT told the card, then the card flow")
        }
    }

    @Test
    fun `a phone when the item requires B is refused before any session, and the card is asked for`(@TempDir dir: File) {
        val records = RealRecords(dir).core
        FlowHarness(items(Level.B), noPolicies, records, phoneVerifier).use { h ->
            h.flow.enterItem("JP-0001")
            val choice = h.await<FlowState.LevelChoice>()
            assertEquals(listOf(Level.B, Level.C), choice.accepted, "no phone for a B item")
            h.flow.chooseLevel(Level.B)
            h.await<FlowState.SecretEntry>()
            val pin = SecretBuffer(SecretKind.AUTH_PIN).apply { "2468".forEach { append(it) } }
            h.flow.submitSecret(pin)
            h.await<FlowState.WaitingForCard>()
            val tag = FakePhoneIsoDep(SoftwarePhoneTransport("mdoc-genuine"))
            tap(h, tag)
            val problem = h.await<FlowState.Problem>()
            assertEquals(ProblemKind.PHONE_NOT_ACCEPTED, problem.kind)
            assertEquals(listOf(0xA4, 0xA4), insOf(tag.log), "two SELECTs, no engagement, no session")
            assertEquals(0, pin.length, "the PIN was wiped")
            assertTrue(records.since(0).isEmpty(), "nothing was checked, so nothing is recorded")
            assertEquals(0, h.syncRequests.get())
            h.flow.retry()
            assertEquals(Level.B, h.await<FlowState.SecretEntry>().level, "back to the card's PIN")
        }
    }

    @Test
    fun `a phone at a card level is checked only once the courier switches, and a card at level M is sent back`(@TempDir dir: File) {
        FlowHarness(items(Level.A), noPolicies, RealRecords(dir).core, phoneVerifier).use { h ->
            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.B)
            h.await<FlowState.SecretEntry>()
            h.flow.submitSecret(SecretBuffer(SecretKind.AUTH_PIN).apply { "2468".forEach { append(it) } })
            h.await<FlowState.WaitingForCard>()
            tap(h, FakePhoneIsoDep(SoftwarePhoneTransport("mdoc-genuine")))
            assertEquals(ProblemKind.PHONE_INSTEAD_OF_CARD, h.await<FlowState.Problem>().kind)
            h.flow.switchToPhone()
            assertEquals(Level.M, h.await<FlowState.WaitingForCard>().level)

            val card = FakeIsoDep(SoftwareCardTransport("genuine"))
            tap(h, card)
            assertEquals(ProblemKind.CARD_INSTEAD_OF_PHONE, h.await<FlowState.Problem>().kind)
            assertFalse(card.log.sentASecret())
            assertEquals(1, card.log.commands.size, "one SELECT told the card")
            h.flow.changeLevel()
            assertNull(h.await<FlowState.LevelChoice>().confirming)
        }
    }

    @Test
    fun `an unknown sender minimum asks to confirm level M like level A`(@TempDir dir: File) {
        FlowHarness(ManifestDirectory(emptyList()), noPolicies, RealRecords(dir).core, phoneVerifier).use { h ->
            h.flow.enterItem("JP-0009")
            h.await<FlowState.ItemEntry> { it.itemNeedingDetails != null }
            h.flow.enterDetails("test-bank", holder.name)
            val choice = h.await<FlowState.LevelChoice>()
            assertEquals(setOf(Level.A, Level.M), choice.needsConfirmation)
            h.flow.chooseLevel(Level.M)
            assertEquals(Level.M, h.await<FlowState.LevelChoice>().confirming)
            h.flow.confirmLevel()
            assertEquals(Level.M, h.await<FlowState.WaitingForCard>().level)
        }
    }

    @Test
    fun `a cloned phone is forged without a portrait to compare, and a phone taken away asks to retry`(@TempDir dir: File) {
        val records = RealRecords(dir).core
        FlowHarness(items(Level.A), noPolicies, records, phoneVerifier).use { h ->
            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.M)
            h.await<FlowState.WaitingForCard>()
            tap(h, FakePhoneIsoDep(SoftwarePhoneTransport("mdoc-clone")))
            val forged = h.await<FlowState.Outcome>()
            assertEquals(Verdict.FORGED, forged.verdict)
            assertEquals(NextStep.DO_NOT_HAND_OVER, forged.next)
            assertEquals(CheckId.MDOC_DEVICE_AUTHENTICATION, forged.failure?.check)
            assertEquals("device_signature_invalid", forged.failure?.reasonCode)
            assertTrue(h.seen.none { it is FlowState.PortraitComparison })
            assertEquals(Verdict.FORGED, records.since(0).single().verdict, "a forged phone is recorded too")

            h.flow.nextItem()
            h.await<FlowState.ItemEntry>()
            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.M)
            h.await<FlowState.WaitingForCard>()
            tap(h, FakePhoneIsoDep(SoftwarePhoneTransport("mdoc-stops-answering")))
            val gone = h.await<FlowState.Outcome>()
            assertEquals(Verdict.INCONCLUSIVE, gone.verdict)
            assertEquals("card_removed", gone.failure?.reasonCode)
            assertEquals(NextStep.RETRY, gone.next)
            h.flow.retry()
            assertEquals(Level.M, h.await<FlowState.WaitingForCard>().level, "again without a PIN")
        }
    }
}
