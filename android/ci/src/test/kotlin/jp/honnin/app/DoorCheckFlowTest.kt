package jp.honnin.app

import jp.honnin.app.flow.EntryProblem
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.ManifestDirectory
import jp.honnin.app.flow.ManifestEntry
import jp.honnin.app.flow.NextStep
import jp.honnin.app.flow.PolicyTable
import jp.honnin.app.flow.SecretBuffer
import jp.honnin.app.flow.SecretKind
import jp.honnin.app.flow.SecretProblem
import jp.honnin.app.flow.TypedEntryOnly
import jp.honnin.app.nfc.IsoDepTransport
import jp.honnin.app.nfc.TagHandoff
import jp.honnin.core.CheckId
import jp.honnin.core.FaceDecision
import jp.honnin.core.Level
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.TestPin
import jp.honnin.core.Verdict
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The courier's flow, screen by screen, against the real core and the software card. */
class DoorCheckFlowTest {
    private val holder = Fixtures.holder
    private val manifest = ManifestDirectory(listOf(ManifestEntry("JP-0001", "test-bank", holder)))
    private val levelAOk = PolicyTable(emptyMap(), otherwise = Level.A)

    private fun typed(kind: SecretKind, text: String) = SecretBuffer(kind).apply { text.forEach { append(it) } }

    private fun tap(harness: FlowHarness, tag: FakeIsoDep, handoff: TagHandoff = TagHandoff()) =
        assertTrue(harness.flow.cardPresented(IsoDepTransport(tag, handoff, returnWaitMillis = 200)))

    @Test
    fun `item entry to a stored record, then the sync marks it sent`() {
        val records = InMemoryRecords()
        FlowHarness(manifest, levelAOk, records).use { h ->
            h.await<FlowState.ItemEntry>()
            h.flow.enterItem("  JP-0001 ")
            val choice = h.await<FlowState.LevelChoice>()
            assertEquals(listOf(Level.A, Level.B, Level.C), choice.accepted)
            assertEquals(holder, choice.item.addressee, "the addressee comes from the manifest")
            h.flow.chooseLevel(Level.B)
            assertEquals(SecretKind.AUTH_PIN, h.await<FlowState.SecretEntry>().kind)

            val card = SoftwareCardTransport("genuine")
            val pin = typed(SecretKind.AUTH_PIN, card.secrets().authPin)
            h.flow.submitSecret(pin)
            h.await<FlowState.WaitingForCard>()
            tap(h, FakeIsoDep(card))
            h.await<FlowState.Reading>()
            val outcome = h.await<FlowState.Outcome>()

            assertEquals(Verdict.GENUINE, outcome.verdict, outcome.toString())
            assertEquals(NextStep.HAND_OVER, outcome.next)
            assertEquals("受取人本人の真正なカードです。お渡しください。", outcome.messageJa)
            assertEquals(0, pin.length, "the PIN was wiped after its one use")
            val record = checkNotNull(outcome.record) { "the record was stored" }
            assertFalse(record.isSynced)
            assertEquals(1, h.syncRequests.get(), "a background sync was asked for")

            // The sync job's work, then today's history shows the record as sent.
            assertEquals(jp.honnin.app.records.SyncOutcome.Done(sent = 1, remaining = 0), records.syncPending())
            h.flow.nextItem()
            h.await<FlowState.ItemEntry>()
            h.flow.showHistory()
            val history = h.await<FlowState.History>()
            assertEquals(listOf(record.recordId), history.records.map { it.recordId })
            assertTrue(history.records.single().isSynced)
            assertEquals("JP-0001", history.records.single().itemId)
        }
    }

    @Test
    fun `an item not in the manifest is entered by hand from its label`() {
        FlowHarness(TypedEntryOnly, levelAOk, InMemoryRecords()).use { h ->
            h.await<FlowState.ItemEntry>()
            h.flow.enterItem("")
            assertEquals(EntryProblem.EMPTY, h.await<FlowState.ItemEntry>().problem)
            h.flow.enterItem("JP-0002")
            val details = h.await<FlowState.ItemEntry>()
            assertEquals("JP-0002", details.itemNeedingDetails)
            h.flow.enterDetails("test-bank", " ")
            assertEquals(EntryProblem.MISSING_DETAILS, h.await<FlowState.ItemEntry>().problem)
            h.flow.enterDetails("test-bank", "試験\u3000花子")
            val choice = h.await<FlowState.LevelChoice>()
            assertEquals("JP-0002", choice.item.itemId)
            assertEquals("試験\u3000花子", choice.item.addressee?.name)
        }
    }

    @Test
    fun `an incomplete secret is asked again and wiped`() {
        FlowHarness(manifest, levelAOk, InMemoryRecords()).use { h ->
            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.A)
            h.await<FlowState.SecretEntry>()
            val partial = typed(SecretKind.MATCHING_NUMBER_B, "9004")
            h.flow.submitSecret(partial)
            assertEquals(SecretProblem.INCOMPLETE, h.await<FlowState.SecretEntry>().problem)
            assertEquals(0, partial.length)
        }
    }

    @Test
    fun `a card that leaves and does not return shows a clear retry, and the retry succeeds`() {
        val records = InMemoryRecords()
        FlowHarness(manifest, levelAOk, records).use { h ->
            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.B)
            h.await<FlowState.SecretEntry>()
            val card = SoftwareCardTransport("genuine")
            h.flow.submitSecret(typed(SecretKind.AUTH_PIN, card.secrets().authPin))
            h.await<FlowState.WaitingForCard>()
            // The card leaves during the first certificate read and nobody brings it back.
            tap(h, FakeIsoDep(card, loseOn = setOf(5)))
            val away = h.await<FlowState.Reading> { it.progress.cardAway }
            assertTrue(away.progress.cardAway, "the courier is told to hold the card on again")
            val lost = h.await<FlowState.Outcome>()
            assertEquals(Verdict.INCONCLUSIVE, lost.verdict)
            assertEquals("card_removed", lost.failure?.reasonCode)
            assertEquals(NextStep.RETRY, lost.next, "a clear retry, not a verdict about the card")
            assertEquals(3u, card.triesLeft(TestPin.AUTH), "no PIN was spent")

            h.flow.retry()
            assertEquals(SecretKind.AUTH_PIN, h.await<FlowState.SecretEntry>().kind, "the wiped PIN is asked again")
            h.flow.submitSecret(typed(SecretKind.AUTH_PIN, card.secrets().authPin))
            h.await<FlowState.WaitingForCard>()
            tap(h, FakeIsoDep(card).rediscovered())
            val outcome = h.await<FlowState.Outcome>()
            assertEquals(Verdict.GENUINE, outcome.verdict)
            assertEquals(listOf(Verdict.INCONCLUSIVE, Verdict.GENUINE), records.stored().map { it.verdict })
        }
    }

    @Test
    fun `the PIN guard refusal is shown to the courier with level A offered, and level A completes`() {
        FlowHarness(manifest, levelAOk, InMemoryRecords()).use { h ->
            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.B)
            h.await<FlowState.SecretEntry>()
            val card = SoftwareCardTransport("pin-one-try-left")
            h.flow.submitSecret(typed(SecretKind.AUTH_PIN, card.secrets().authPin))
            h.await<FlowState.WaitingForCard>()
            val tag = FakeIsoDep(card)
            tap(h, tag)
            val refused = h.await<FlowState.Outcome>()

            assertEquals(Verdict.REFUSED, refused.verdict)
            assertEquals(NextStep.OFFER_LEVEL_A, refused.next)
            assertEquals(CheckId.PIN_STATE, refused.failure?.check)
            assertEquals("pin_guard_refused", refused.failure?.reasonCode)
            assertTrue(refused.messageEn.contains("level A"), refused.messageEn)
            assertFalse(tag.log.sentASecret(), "the PIN never reached the card")
            assertEquals(1u, card.triesLeft(TestPin.AUTH))

            h.flow.switchToLevelA()
            val numberB = h.await<FlowState.SecretEntry>()
            assertEquals(Level.A, numberB.level)
            assertEquals(SecretKind.MATCHING_NUMBER_B, numberB.kind)
            h.flow.submitSecret(typed(SecretKind.MATCHING_NUMBER_B, card.secrets().matchingNumberB))
            h.await<FlowState.WaitingForCard>()
            tap(h, FakeIsoDep(card).rediscovered())
            val face = h.await<FlowState.FaceComparison>()
            val photo = checkNotNull(face.images.face) { "the card has a face photo" }
            assertTrue(photo.width > 0u && photo.rgba.isNotEmpty())
            h.flow.confirmFace(FaceDecision.CONFIRMED)
            val outcome = h.await<FlowState.Outcome>()
            assertEquals(Verdict.GENUINE, outcome.verdict, outcome.toString())
            assertTrue(photo.rgba.all { it.toInt() == 0 }, "the face image was wiped once the courier decided")
        }
    }

    @Test
    fun `a sender that requires a PIN sends the holder to the counter instead`() {
        val pinRequired = PolicyTable(mapOf("test-bank" to Level.B), otherwise = Level.A)
        FlowHarness(manifest, pinRequired, InMemoryRecords()).use { h ->
            h.flow.enterItem("JP-0001")
            assertEquals(listOf(Level.B, Level.C), h.await<FlowState.LevelChoice>().accepted)
            h.flow.chooseLevel(Level.A)
            h.flow.chooseLevel(Level.B)
            assertEquals(Level.B, h.await<FlowState.SecretEntry>().level, "level A was not accepted")
            val card = SoftwareCardTransport("pin-one-try-left")
            h.flow.submitSecret(typed(SecretKind.AUTH_PIN, card.secrets().authPin))
            h.await<FlowState.WaitingForCard>()
            tap(h, FakeIsoDep(card))
            val refused = h.await<FlowState.Outcome>()
            assertEquals(NextStep.REFER_TO_COUNTER, refused.next)
            h.flow.switchToLevelA()
            assertTrue(h.flow.state is FlowState.Outcome, "no way around the sender's policy")
        }
    }

    @Test
    fun `a forged card is forged at level A without a face comparison, and at level B`() {
        val records = InMemoryRecords()
        FlowHarness(manifest, levelAOk, records).use { h ->
            for (level in listOf(Level.A, Level.B)) {
                h.flow.nextItem()
                h.await<FlowState.ItemEntry>()
                h.flow.enterItem("JP-0001")
                h.await<FlowState.LevelChoice>()
                h.flow.chooseLevel(level)
                val entry = h.await<FlowState.SecretEntry>()
                val card = SoftwareCardTransport("forged-ca")
                val secret = if (level == Level.A) card.secrets().matchingNumberB else card.secrets().authPin
                h.flow.submitSecret(typed(entry.kind, secret))
                h.await<FlowState.WaitingForCard>()
                val tag = FakeIsoDep(card)
                tap(h, tag)
                val outcome = h.await<FlowState.Outcome>()
                assertEquals(Verdict.FORGED, outcome.verdict, "level $level")
                assertEquals(NextStep.DO_NOT_HAND_OVER, outcome.next)
                assertEquals("偽造カードです。お渡ししないでください。", outcome.messageJa)
                assertNotNull(outcome.failure)
                assertNull(h.seen.firstOrNull { it is FlowState.FaceComparison }, "no face shown for a forged card")
                if (level == Level.B) assertFalse(tag.log.sentASecret(), "the PIN is never sent to a forged card")
            }
            assertEquals(listOf(Verdict.FORGED, Verdict.FORGED), records.stored().map { it.verdict }, "forgeries are recorded too")
        }
    }
}
