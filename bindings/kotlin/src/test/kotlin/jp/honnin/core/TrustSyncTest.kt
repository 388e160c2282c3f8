package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files
import java.nio.file.Path
import java.util.Base64

/**
 * Issue 15 on the device, through the generated bindings and the real `honnin-receiver` on
 * loopback (pinned TLS): the receipt key rotated at the receiver is followed by sync and handed
 * to Kotlin; a receiver whose key no rotation from the trusted one leads to is refused; the
 * trust bundle the operator loads is kept by sync and the door check, with no network, checks
 * revocation from it and names the list; an expired bundle is reported in the check; a revoked
 * device gets its own exception.
 */
class TrustSyncTest {
    private val device = Fixtures.request().deviceId

    private fun revocationOf(report: DoorCheckReport): CheckResult =
        report.checks().first { it.check == CheckId.REVOCATION }

    private fun b64(der: ByteArray): String = Base64.getEncoder().encodeToString(der)

    /** The test CRLs as files, as the operator hands them to `trust-load`. */
    private fun crlFiles(dir: Path): List<Path> = testRevocationLists().mapIndexed { i, der ->
        dir.resolve("list-$i.crl.der").also { Files.write(it, der) }
    }

    @Test
    fun `sync follows a receipt-key rotation, hands the new key over, and records keep syncing`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(device)
            var url = receiver.start()
            val store = Records.open(dir)
            val enrolment = store.enrol(Records.config(url, receiver.pin), code)
            store.append(Records.checkB("JP-ITEM-0001"), "courier-7")
            val first = store.sync(Records.config(url, receiver.pin, appVersion = "honnin-android/1.4.0"), enrolment.receiverKey)
            assertEquals(1uL, first.synced)
            assertNull(first.newReceiverKey, "no rotation yet")

            // The operator rotates while the receiver serves; the device syncs at once (its
            // receipts may still be signed by the old key for a few seconds: both verify).
            receiver.rotateReceiptKey()
            store.append(Records.checkB("JP-ITEM-0002"), "courier-7")
            val rotated = store.sync(Records.config(url, receiver.pin), enrolment.receiverKey)
            assertEquals(1uL, rotated.synced)
            val newKey = checkNotNull(rotated.newReceiverKey) { "the new key is handed to the app to keep" }
            assertFalse(newKey.contentEquals(enrolment.receiverKey))
            val announced = receiver.receiptKeyAnnouncement()
            assertEquals(b64(newKey), announced.getString("receipt_key"))
            // The old key stays announced, so the receipts it signed before still verify.
            val previous = announced.getJSONArray("previous_keys")
            assertEquals(listOf(b64(enrolment.receiverKey)), (0 until previous.length()).map { previous.getString(it) })

            // With the new key kept: after a restart (every receipt now by the new key) records
            // sync, nothing more to learn, and the manifest verifies with it.
            receiver.stop()
            url = receiver.start()
            store.append(Records.checkB("JP-ITEM-0003"), "courier-7")
            val after = store.sync(Records.config(url, receiver.pin), newKey)
            assertEquals(1uL, after.synced)
            assertNull(after.newReceiverKey)
            assertEquals(0uL, store.pendingSyncCount())
            store.fetchManifest(Records.config(url, receiver.pin), newKey)
            assertThrows<HonninException.ManifestInvalid> { store.manifest(enrolment.receiverKey, device) }
            // A device that kept the old key (its app was killed before it saved the new one)
            // learns the same rotation again at its next sync.
            val again = store.sync(Records.config(url, receiver.pin), enrolment.receiverKey)
            assertArrayEquals(newKey, again.newReceiverKey)
        }
    }

    @Test
    fun `a receiver key that no rotation signed by the trusted key leads to is refused`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir.resolve("genuine").also(Files::createDirectories)).use { genuine ->
            val code = genuine.enrolmentCode(device)
            val url = genuine.start()
            val store = Records.open(dir)
            val enrolment = store.enrol(Records.config(url, genuine.pin), code)
            store.append(Records.checkB("JP-ITEM-0001"), "courier-7")
            genuine.stop()
            // Another receiver at the same TLS key (the pin passes), with a key of its own and
            // even a rotation of it: none was signed by the key this device trusts.
            ReceiverProcess(dir.resolve("other").also(Files::createDirectories)).sharingTlsKeyOf(genuine).use { other ->
                other.rotateReceiptKey()
                val otherUrl = other.start()
                val refused = assertThrows<HonninException.ReceiptKeyRotationRefused> {
                    store.sync(Records.config(otherUrl, genuine.pin), enrolment.receiverKey)
                }
                assertTrue(refused.detail.contains("no rotation signed by the trusted key"), refused.detail)
                assertEquals(1uL, store.pendingSyncCount(), "nothing was sent")
            }
        }
    }

    @Test
    fun `the door check with no network checks revocation from the bundle sync kept`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()
            val store = Records.open(dir)
            val key = store.enrol(Records.config(url, receiver.pin), code).receiverKey
            assertEquals(TrustBundleUpdate.NoneLoaded, store.sync(Records.config(url, receiver.pin), key).trustBundle)
            assertNull(store.keptTrustBundle(key), "nothing kept before the operator loads one")

            receiver.trustLoad(testAnchorsDirectory(), crlFiles(dir))
            val before = WallClock.nowUnixSeconds()
            val update = store.sync(Records.config(url, receiver.pin), key).trustBundle
            val after = WallClock.nowUnixSeconds()
            val kept = (update as? TrustBundleUpdate.Kept ?: throw AssertionError("not kept: $update")).bundle
            assertEquals(1uL, kept.serial)
            assertEquals(2, kept.revocationLists.size)
            // The update reports the bundle as of the sync (the store's clock, the real one): a
            // fresh bundle, whose lists are stale exactly when the real date is past their
            // nextUpdate (the fixtures' lists: after 2026-12-31, so not asserted as current).
            assertFalse(kept.expired, kept.summary)
            for (list in kept.revocationLists) {
                val next = checkNotNull(list.nextUpdate) { "a list without nextUpdate: ${kept.summary}" }
                if (next < before) assertTrue(list.stale, kept.summary)
                if (next >= after) assertFalse(list.stale, kept.summary)
            }
            assertEquals(kept.revocationLists.none { it.stale }, kept.current, kept.summary)
            // At the fixtures' check time (their lists current then), the kept bundle is current.
            assertTrue(checkNotNull(store.keptTrustBundle(key)).info(TestClock.SECONDS).current, kept.summary)
            assertTrue(Files.exists(dir.resolve("records.db.trust-bundle")))

            // Offline at the door: the verifier comes from the kept bundle alone.
            receiver.stop()
            val bundle = checkNotNull(store.keptTrustBundle(key)) { "the bundle sync kept" }
            val verifier = Verifier.fromTrustBundle(bundle, TestClock)
            val revokedCard = Fixtures.card("revoked")
            val link = ForwardingTransport(revokedCard)
            val refused = verifier.checkLevelB(link, Fixtures.request(), revokedCard.secrets().authPin)
            assertNotEquals(Verdict.GENUINE, refused.verdict())
            with(revocationOf(refused)) {
                assertEquals(CheckState.FAILED, state)
                assertEquals("revoked", reasonCode)
                assertTrue(detail.contains("list of") && detail.contains("issued 2026-11-01 (576 h old)"), detail)
                assertTrue(detail.contains("from trust bundle 1"), detail)
            }
            assertFalse(link.sentASecret(), "refused before any PIN try was spent")
            val genuineCard = Fixtures.card()
            val genuine = verifier.checkLevelB(ForwardingTransport(genuineCard), Fixtures.request(), genuineCard.secrets().authPin)
            assertEquals(Verdict.GENUINE, genuine.verdict())
            assertEquals(CheckState.PASSED, revocationOf(genuine).state)

            // The bundle once it expired: reported in the check, never used as current.
            val late = bundle.info(kept.expiresAt + 1)
            assertTrue(late.expired && !late.current && late.revocationLists.all { it.stale }, late.summary)
            val lateClock = object : Clock {
                override fun nowUnixSeconds(): Long = kept.expiresAt + 1
            }
            val stale = Verifier.fromTrustBundle(bundle, lateClock)
            val card = Fixtures.card()
            val report = stale.checkLevelB(ForwardingTransport(card), Fixtures.request(), card.secrets().authPin)
            assertNotEquals(Verdict.GENUINE, report.verdict())
            with(revocationOf(report)) {
                assertEquals(CheckState.FAILED, state)
                assertEquals("revocation_list_invalid", reasonCode)
                assertTrue(detail.contains("trust bundle 1") && detail.contains("expired on"), detail)
            }

            // A kept file edited on the device is refused, not skipped; so is another key.
            assertThrows<HonninException.TrustBundleInvalid> { store.keptTrustBundle(JavaSecuritySigner().publicKeyDer()) }
            val file = dir.resolve("records.db.trust-bundle")
            Files.writeString(file, Files.readString(file).replace("\"serial\":1", "\"serial\":7"))
            assertThrows<HonninException.TrustBundleInvalid> { store.keptTrustBundle(key) }
        }
    }

    @Test
    fun `a revoked device gets its own exception, also with nothing to send`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()
            val store = Records.open(dir)
            val key = store.enrol(Records.config(url, receiver.pin), code).receiverKey
            receiver.revokeDevice(device, "lost on round 12")

            val idle = assertThrows<HonninException.DeviceRevoked> { store.sync(Records.config(url, receiver.pin), key) }
            assertTrue(idle.detail.contains("lost on round 12"), idle.detail)
            store.append(Records.checkB("JP-ITEM-0001"), "courier-7")
            assertThrows<HonninException.DeviceRevoked> { store.sync(Records.config(url, receiver.pin), key) }
            assertEquals(1uL, store.pendingSyncCount(), "the record stays in the store")
            assertThrows<HonninException.DeviceRevoked> { store.fetchManifest(Records.config(url, receiver.pin), key) }
        }
    }

    @Test
    fun `an app version the receiver would refuse is refused before anything is sent`() {
        val store = Records.open(Records.tempDir())
        val refused = assertThrows<HonninException.InvalidArgument> {
            store.sync(Records.config("https://127.0.0.1:9", "sha256/" + "A".repeat(43) + "=", appVersion = "本人/1.0"), JavaSecuritySigner().publicKeyDer())
        }
        assertTrue(refused.detail.contains("app_version"), refused.detail)
    }
}
