package jp.honnin.app

import jp.honnin.app.flow.EntryProblem
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.ItemDirectory
import jp.honnin.app.flow.LevelWarning
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
import jp.honnin.app.records.EnrolOutcome
import jp.honnin.app.records.ProofRecords
import jp.honnin.app.records.SyncOutcome
import jp.honnin.core.CheckId
import jp.honnin.core.FaceDecision
import jp.honnin.core.Level
import jp.honnin.core.RecordExpectation
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.TestPin
import jp.honnin.core.Verdict
import jp.honnin.core.recordIdentity
import jp.honnin.core.verifyRecord
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import org.json.JSONObject

/** The courier's flow, screen by screen, against the real core and the software card. */
class DoorCheckFlowTest {
    private val holder = Fixtures.holder
    /** A known item whose sender accepts level A: no warning, no confirmation. */
    private val manifest = ManifestDirectory(listOf(ManifestEntry("JP-0001", "test-bank", holder, minimumLevel = Level.A)))
    /** The app's own configuration: no sender's policy known on the device. */
    private val noPolicies = PolicyTable(emptyMap())

    private fun typed(kind: SecretKind, text: String) = SecretBuffer(kind).apply { text.forEach { append(it) } }

    private fun tap(harness: FlowHarness, tag: FakeIsoDep, handoff: TagHandoff = TagHandoff()) =
        assertTrue(harness.flow.cardPresented(IsoDepTransport(tag, handoff, returnWaitMillis = 200)))

    @Test
    fun `item entry to a record in the real store, synced over the pinned TLS key to the real receiver`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val token = receiver.addSender("test-bank")
            val code = receiver.enrolmentCode(Fixtures.DEVICE_ID)
            val url = receiver.start()
            val real = RealRecords(dir)
            assertEquals(SyncOutcome.NotEnrolled, real.core.syncPending(), "nothing is sent before enrolment")

            // The enrolment screen's work: the operator's code and pin; the code is wiped.
            val typedCode = code.toCharArray()
            val enrolled = real.core.enrol(url, typedCode, receiver.pin)
            assertTrue(enrolled is EnrolOutcome.Enrolled, enrolled.toString())
            assertTrue(typedCode.all { it == '\u0000' }, "the one-time code was wiped")
            val link = checkNotNull(real.enrolments.link)
            assertEquals(receiver.pin, link.tlsPin, "the pin is kept with the enrolment for every sync")

            // The sender registers the parcel for this handheld, at level B at least, keeping the
            // holder's name; the sync downloads the signed manifest with it.
            val items = """[{"item_id": "JP-0001", "device_id": "${Fixtures.DEVICE_ID}", "addressee_name": "${holder.name}",
                "min_level": "B", "attributes": ["name"]}]"""
            assertEquals(200, receiver.registerItems(token, items))
            assertEquals(SyncOutcome.Done(sent = 0, remaining = 0), real.core.syncPending())

            doorCheckToSyncedRecord(real.core, directory = real.core, levels = listOf(Level.B, Level.C)) {
                assertEquals(SyncOutcome.Done(sent = 1, remaining = 0), real.core.syncPending())
            }

            // The sender's side: the feed holds the record, and it verifies with the device's key.
            val entry = receiver.feed(token).single()
            // The receiver's check of the sender's policy: the level, the device, and exactly the
            // attributes the manifest asked for (the app took them from the manifest).
            val checks = JSONObject(String(entry)).getJSONObject("verification").getJSONArray("checks")
            val policy = (0 until checks.length()).map { checks.getJSONObject(it) }.single { it.getString("check") == "item_policy" }
            assertEquals("passed", policy.getString("state"), policy.toString())
            val stored = real.core.since(0).single()
            assertEquals(stored.recordId, recordIdentity(entry).recordId)
            val verification = verifyRecord(entry, Fixtures.verifier, RecordExpectation(real.deviceKey.publicKeyDer(), "JP-0001", "test-bank"))
            assertTrue(verification.verified, verification.checks.toString())
            assertEquals(Verdict.GENUINE, verification.recordedVerdict)

            // Encrypted at rest: neither the parcel nor the holder's name is in the file or its log.
            for (file in listOf(real.storeFile, File(dir, "records.db-wal")).filter { it.exists() }) {
                val bytes = String(file.readBytes(), Charsets.ISO_8859_1)
                for (needle in listOf("JP-0001", "試験")) {
                    assertFalse(bytes.contains(String(needle.toByteArray(), Charsets.ISO_8859_1)), "$needle in ${file.name}")
                }
            }
            assertTrue(real.wrapper.unwrapped.isNotEmpty(), "the sync opened the store with its key")
            assertTrue(real.wrapper.unwrapped.all { key -> key.all { it.toInt() == 0 } }, "every store key handed to the core was wiped")
        }
    }

    /** Item entry → level B → PIN → card → genuine → stored; [sync] runs the job's work; then history. */
    private fun doorCheckToSyncedRecord(records: ProofRecords, directory: ItemDirectory, levels: List<Level>, sync: () -> Unit) {
        FlowHarness(directory, noPolicies, records).use { h ->
            h.await<FlowState.ItemEntry>()
            h.flow.enterItem("  JP-0001 ")
            val choice = h.await<FlowState.LevelChoice>()
            assertEquals(levels, choice.accepted, "the levels the sender's manifest allows")
            assertNull(choice.warning, "the manifest gave the sender's minimum")
            assertEquals(Level.B, choice.preselected)
            assertEquals(holder.name, choice.item.addressee?.name, "the addressee comes from the manifest")
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
            sync()
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
    fun `an item not in the manifest is entered by hand from its label`(@TempDir dir: File) {
        FlowHarness(TypedEntryOnly, noPolicies, RealRecords(dir).core).use { h ->
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
    fun `an item whose sender's minimum is unknown warns, offers B first, and takes A only once confirmed`(@TempDir dir: File) {
        val records = RealRecords(dir).core
        FlowHarness(TypedEntryOnly, noPolicies, records).use { h ->
            h.flow.enterItem("JP-0002")
            h.await<FlowState.ItemEntry> { it.itemNeedingDetails != null }
            h.flow.enterDetails("test-bank", holder.name)
            val choice = h.await<FlowState.LevelChoice>()
            // Every level, with the warning; B on top, and A behind a confirmation.
            assertEquals(LevelWarning.SENDER_MINIMUM_UNKNOWN, choice.warning)
            assertEquals(listOf(Level.A, Level.B, Level.C), choice.accepted)
            assertEquals(Level.B, choice.preselected)
            assertEquals(setOf(Level.A), choice.needsConfirmation)
            assertNull(choice.confirming)

            h.flow.chooseLevel(Level.A)
            assertEquals(Level.A, h.await<FlowState.LevelChoice>().confirming, "one tap on A only asks to confirm it")
            // A double tap on A is still not a confirmation.
            h.flow.chooseLevel(Level.A)
            assertEquals(Level.A, (h.flow.state as FlowState.LevelChoice).confirming)
            h.flow.backToLevels()
            assertNull(h.await<FlowState.LevelChoice>().confirming)
            h.flow.confirmLevel()
            assertTrue(h.flow.state is FlowState.LevelChoice, "nothing to confirm once the courier went back")

            h.flow.chooseLevel(Level.A)
            h.await<FlowState.LevelChoice> { it.confirming == Level.A }
            h.flow.confirmLevel()
            val entry = h.await<FlowState.SecretEntry>()
            assertEquals(Level.A, entry.level)
            assertEquals(SecretKind.MATCHING_NUMBER_B, entry.kind)
            assertEquals(
                listOf(FlowState.LevelChoice::class, FlowState.LevelChoice::class, FlowState.LevelChoice::class, FlowState.LevelChoice::class),
                h.seen.dropWhile { it !is FlowState.LevelChoice }.takeWhile { it !is FlowState.SecretEntry }.map { it::class },
                "no secret was asked before the confirmation",
            )

            // The record says level A, which is what the sender sees.
            val card = SoftwareCardTransport("genuine")
            h.flow.submitSecret(typed(SecretKind.MATCHING_NUMBER_B, card.secrets().matchingNumberB))
            h.await<FlowState.WaitingForCard>()
            tap(h, FakeIsoDep(card))
            h.await<FlowState.FaceComparison>()
            h.flow.confirmFace(FaceDecision.CONFIRMED)
            assertEquals(Verdict.GENUINE, h.await<FlowState.Outcome>().verdict)
            assertEquals(listOf(Level.A), records.since(0).map { it.level })
        }
    }

    @Test
    fun `a manifest item with no minimum of its own and a sender the device does not know warns too, a known sender does not`(@TempDir dir: File) {
        val items = ManifestDirectory(listOf(ManifestEntry("JP-0003", "other-bank", holder), ManifestEntry("JP-0004", "test-bank", holder)))
        FlowHarness(items, PolicyTable(mapOf("test-bank" to Level.B)), RealRecords(dir).core).use { h ->
            h.flow.enterItem("JP-0003")
            val unknown = h.await<FlowState.LevelChoice>()
            assertEquals(LevelWarning.SENDER_MINIMUM_UNKNOWN, unknown.warning)
            assertEquals(setOf(Level.A), unknown.needsConfirmation)
            h.flow.nextItem()
            h.await<FlowState.ItemEntry>()
            h.flow.enterItem("JP-0004")
            val known = h.await<FlowState.LevelChoice>()
            assertNull(known.warning)
            assertEquals(listOf(Level.B, Level.C), known.accepted, "the sender's policy says B")
        }
    }

    @Test
    fun `after the PIN guard, an unknown minimum asks to confirm level A with the warning`(@TempDir dir: File) {
        FlowHarness(TypedEntryOnly, noPolicies, RealRecords(dir).core).use { h ->
            h.flow.enterItem("JP-0002")
            h.await<FlowState.ItemEntry> { it.itemNeedingDetails != null }
            h.flow.enterDetails("test-bank", holder.name)
            h.await<FlowState.LevelChoice>()
            h.flow.chooseLevel(Level.B)
            val card = SoftwareCardTransport("pin-one-try-left")
            h.await<FlowState.SecretEntry>()
            h.flow.submitSecret(typed(SecretKind.AUTH_PIN, card.secrets().authPin))
            h.await<FlowState.WaitingForCard>()
            tap(h, FakeIsoDep(card))
            assertEquals(NextStep.OFFER_LEVEL_A, h.await<FlowState.Outcome>().next)
            h.flow.switchToLevelA()
            // Not straight to 照合番号B: the confirmation, with the warning, comes first.
            val confirm = h.await<FlowState.LevelChoice>()
            assertEquals(Level.A, confirm.confirming)
            assertEquals(LevelWarning.SENDER_MINIMUM_UNKNOWN, confirm.warning)
            h.flow.confirmLevel()
            assertEquals(Level.A, h.await<FlowState.SecretEntry>().level)
        }
    }

    @Test
    fun `the manifest lookup runs on the worker, and its result is dropped once the courier moved on`(@TempDir dir: File) {
        val release = CountDownLatch(1)
        val lookupThreads = Collections.synchronizedList(mutableListOf<Thread>())
        val slow = object : ItemDirectory {
            override fun lookup(itemId: String): ManifestEntry? {
                lookupThreads.add(Thread.currentThread())
                release.await(10, TimeUnit.SECONDS)
                return manifest.lookup(itemId)
            }
        }
        FlowHarness(slow, noPolicies, RealRecords(dir).core).use { h ->
            h.flow.enterItem("JP-0001")
            assertEquals("JP-0001", h.await<FlowState.LookingUpItem>().itemId)
            // A second scan while the lookup runs is ignored (one lookup only).
            h.flow.enterItem("JP-0001")
            h.flow.nextItem()
            h.await<FlowState.ItemEntry>()
            release.countDown()
            // The stale lookup must not take the courier to the level screen of the old item.
            assertNull(h.poll(TimeUnit.MILLISECONDS.toNanos(500)), "no state after the dropped lookup")
            assertTrue(h.flow.state is FlowState.ItemEntry)

            h.flow.enterItem("JP-0001")
            h.await<FlowState.LevelChoice>()
            assertEquals(2, lookupThreads.size)
            assertTrue(lookupThreads.none { it === Thread.currentThread() }, "the store is never read on the caller's (UI) thread")
        }
    }

    @Test
    fun `an incomplete secret is asked again and wiped`(@TempDir dir: File) {
        FlowHarness(manifest, noPolicies, RealRecords(dir).core).use { h ->
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
    fun `a card that leaves and does not return shows a clear retry, and the retry succeeds`(@TempDir dir: File) {
        val records = RealRecords(dir).core
        FlowHarness(manifest, noPolicies, records).use { h ->
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
            assertEquals(listOf(Verdict.INCONCLUSIVE, Verdict.GENUINE), records.since(0).map { it.verdict })
        }
    }

    @Test
    fun `the PIN guard refusal is shown to the courier with level A offered, and level A completes`(@TempDir dir: File) {
        FlowHarness(manifest, noPolicies, RealRecords(dir).core).use { h ->
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
    fun `a sender that requires a PIN sends the holder to the counter instead`(@TempDir dir: File) {
        // The item's own minimum in the manifest is B; the device knows no sender's policy.
        val pinRequired = ManifestDirectory(listOf(ManifestEntry("JP-0001", "test-bank", holder, minimumLevel = Level.B)))
        FlowHarness(pinRequired, noPolicies, RealRecords(dir).core).use { h ->
            h.flow.enterItem("JP-0001")
            val choice = h.await<FlowState.LevelChoice>()
            assertEquals(listOf(Level.B, Level.C), choice.accepted)
            assertNull(choice.warning)
            assertEquals(emptySet<Level>(), choice.needsConfirmation)
            // Neither a tap nor a confirmation gets A for an item whose minimum is B.
            h.flow.chooseLevel(Level.A)
            h.flow.confirmLevel()
            assertEquals(choice, h.flow.state, "level A is not offered, not even behind a confirmation")
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
    fun `a forged card is forged at level A without a face comparison, and at level B`(@TempDir dir: File) {
        val records = RealRecords(dir).core
        FlowHarness(manifest, noPolicies, records).use { h ->
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
            assertEquals(listOf(Verdict.FORGED, Verdict.FORGED), records.since(0).map { it.verdict }, "forgeries are recorded too")
        }
    }

    @Test
    fun `a store that cannot be opened still shows the verdict, and says the record is missing`(@TempDir dir: File) {
        val before = RealRecords(dir)
        FlowHarness(manifest, noPolicies, before.core).use { h -> assertNotNull(checkB(h).record) }
        // App data partly cleared: the store is there, its wrapped key is not. A new key would
        // only make the store unreadable, so none is made and nothing is stored.
        assertTrue(before.keyFile.delete())
        val after = RealRecords(dir)
        FlowHarness(manifest, noPolicies, after.core).use { h ->
            val outcome = checkB(h)
            assertEquals(Verdict.GENUINE, outcome.verdict, "the verdict stands")
            assertNull(outcome.record)
            assertTrue(outcome.storeFailure.orEmpty().contains("StoreKeyUnavailable"), outcome.storeFailure)
            assertEquals(0, h.syncRequests.get(), "no sync is asked for a record that does not exist")
        }
        assertFalse(after.keyFile.exists(), "no new key was made over the existing store")
    }

    /** A genuine level B check of item JP-0001, from item entry to its outcome. */
    private fun checkB(h: FlowHarness): FlowState.Outcome {
        h.await<FlowState.ItemEntry>()
        h.flow.enterItem("JP-0001")
        h.await<FlowState.LevelChoice>()
        h.flow.chooseLevel(Level.B)
        h.await<FlowState.SecretEntry>()
        val card = SoftwareCardTransport("genuine")
        h.flow.submitSecret(typed(SecretKind.AUTH_PIN, card.secrets().authPin))
        h.await<FlowState.WaitingForCard>()
        tap(h, FakeIsoDep(card))
        return h.await<FlowState.Outcome>()
    }
}
