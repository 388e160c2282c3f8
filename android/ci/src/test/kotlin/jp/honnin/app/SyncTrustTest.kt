package jp.honnin.app

import jp.honnin.app.flow.Item
import jp.honnin.app.nfc.IsoDepTransport
import jp.honnin.app.nfc.TagHandoff
import jp.honnin.app.records.EnrolOutcome
import jp.honnin.app.records.SyncOutcome
import jp.honnin.app.sync.runAgain
import jp.honnin.core.CheckId
import jp.honnin.core.CheckRequest
import jp.honnin.core.CheckState
import jp.honnin.core.DoorCheckReport
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.Verdict
import jp.honnin.core.Verifier
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotSame
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File

/**
 * The sync job's side of issue 15, with the app's [CoreRecords] and [DeviceTrust] over the real
 * store and the real receiver: a rotated receipt key is kept in place of the enrolment's, the
 * trust bundle is kept and the door check's verifier comes from it, a revoked device stops
 * syncing for good, and the receiver sees the app's version.
 */
class SyncTrustTest {
    private val item = Item("JP-0001", "test-bank", Fixtures.holder)

    private fun check(verifier: Verifier, profile: String = "genuine"): DoorCheckReport {
        val card = SoftwareCardTransport(profile)
        val request = CheckRequest(item.itemId, item.senderId, Fixtures.DEVICE_ID, item.addressee)
        return verifier.checkLevelB(IsoDepTransport(FakeIsoDep(card), TagHandoff()), request, card.secrets().authPin)
    }

    private fun revocationOf(report: DoorCheckReport) = report.checks().first { it.check == CheckId.REVOCATION }

    private fun enrolled(receiver: ReceiverProcess, dir: File, appVersion: String? = null): RealRecords {
        val code = receiver.enrolmentCode(Fixtures.DEVICE_ID)
        val url = receiver.start()
        val real = RealRecords(dir, appVersion = appVersion)
        assertTrue(real.core.enrol(url, code.toCharArray(), receiver.pin) is EnrolOutcome.Enrolled)
        return real
    }

    @Test
    fun `a rotated receipt key is kept in place of the enrolment's and syncing goes on`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val real = enrolled(receiver, dir)
            val enrolled = checkNotNull(real.enrolments.link).receiverKey
            real.core.append(check(Fixtures.verifier), item)
            assertEquals(SyncOutcome.Done(sent = 1, remaining = 0), real.core.syncPending())
            assertTrue(enrolled.contentEquals(checkNotNull(real.enrolments.link).receiverKey), "no rotation yet")

            // The operator rotates; the receiver serves the new key once restarted (a running
            // one switches within seconds), and the device's next sync follows the rotation.
            receiver.rotateReceiptKey()
            receiver.stop()
            val url = receiver.start()
            real.enrolments.link = checkNotNull(real.enrolments.link).let { jp.honnin.app.records.ReceiverLink(url, it.receiverKey, it.tlsPin) }
            real.core.append(check(Fixtures.verifier), item)
            assertEquals(SyncOutcome.Done(sent = 1, remaining = 0), real.core.syncPending())
            val kept = checkNotNull(real.enrolments.link).receiverKey
            assertFalse(kept.contentEquals(enrolled), "the new key replaced the enrolment's")
            assertEquals(url, checkNotNull(real.enrolments.link).baseUrl, "and nothing else changed")

            // Kept: the next sync has nothing to learn, and its receipts and manifest verify.
            real.core.append(check(Fixtures.verifier), item)
            assertEquals(SyncOutcome.Done(sent = 1, remaining = 0), real.core.syncPending())
            assertTrue(kept.contentEquals(checkNotNull(real.enrolments.link).receiverKey))
            assertTrue(real.core.since(0).all { it.isSynced })
        }
    }

    @Test
    fun `the kept trust bundle becomes the door check's verifier, revocation checked on the device`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val real = enrolled(receiver, dir)
            val trust = DeviceTrust(Fixtures.verifier, real.core, TestClock)
            assertEquals(TrustState.Shipped, trust.state(), "no bundle before the operator loads one")
            assertSame(Fixtures.verifier, trust.verifier())
            assertEquals(CheckState.NOT_CHECKED, revocationOf(check(trust.verifier(), "revoked")).state)

            receiver.trustLoad()
            assertEquals(SyncOutcome.Done(sent = 0, remaining = 0), real.core.syncPending())
            val state = trust.state() as? TrustState.Bundle ?: throw AssertionError("not from the bundle: ${trust.state()}")
            assertEquals(1uL, state.info.serial)
            assertTrue(File(dir, "records.db.trust-bundle").exists(), "kept beside the store")

            // The door, offline: a revoked card is refused, the list named.
            receiver.stop()
            val verifier = trust.verifier()
            assertNotSame(Fixtures.verifier, verifier)
            assertSame(verifier, trust.verifier(), "built once until the next sync changes it")
            val revoked = check(verifier, "revoked")
            assertNotEquals(Verdict.GENUINE, revoked.verdict())
            with(revocationOf(revoked)) {
                assertEquals("revoked", reasonCode)
                assertTrue(detail.contains("from trust bundle 1"), detail)
            }
            assertEquals(Verdict.GENUINE, check(verifier).verdict())

            // The kept file edited: not used, the APK's anchors check the card, and it says so.
            val file = File(dir, "records.db.trust-bundle")
            file.writeText(file.readText().replace("\"serial\":1", "\"serial\":2"))
            val rebuilt = DeviceTrust(Fixtures.verifier, real.core, TestClock)
            val unusable = rebuilt.state() as? TrustState.BundleUnusable ?: throw AssertionError("used: ${rebuilt.state()}")
            assertTrue(unusable.detail.contains("TrustBundleInvalid"), unusable.detail)
            assertSame(Fixtures.verifier, rebuilt.verifier())
        }
    }

    @Test
    fun `a revoked device stops syncing for good and the courier is told`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val real = enrolled(receiver, dir)
            real.core.append(check(Fixtures.verifier), item)
            receiver.revokeDevice(Fixtures.DEVICE_ID, "lost on round 12")

            val outcome = real.core.syncPending()
            val revoked = outcome as? SyncOutcome.Revoked ?: throw AssertionError("not revoked: $outcome")
            assertTrue(revoked.detail.contains("lost on round 12"), revoked.detail)
            assertFalse(runAgain(outcome), "the job does not retry")
            assertEquals(revoked.detail, real.enrolments.revoked, "kept for the item screen's message")
            // No request is made any more: with the receiver gone it is still Revoked, not Offline.
            receiver.stop()
            assertEquals(revoked, real.core.syncPending())
            assertTrue(real.core.since(0).none { it.isSynced }, "the record stays in the store")
        }
    }

    @Test
    fun `the receiver sees the app's version, and a version name it would refuse cannot stop the sync`(@TempDir dir: File) {
        assertEquals("honnin-android/1.4.0", CoreRecords.appVersion("1.4.0"))
        assertEquals("honnin-android/1.4.0-", CoreRecords.appVersion("1.4.0-本番"))
        assertEquals("honnin-android/unknown", CoreRecords.appVersion(null))
        assertEquals(64, CoreRecords.appVersion("9".repeat(100)).length)
        ReceiverProcess(dir).use { receiver ->
            val real = enrolled(receiver, dir, appVersion = CoreRecords.appVersion("1.4.0-本番"))
            assertEquals(SyncOutcome.Done(sent = 0, remaining = 0), real.core.syncPending())
            val seen = receiver.devices().getJSONObject(0)
            assertEquals(Fixtures.DEVICE_ID, seen.getString("device_id"))
            assertEquals("honnin-android/1.4.0-", seen.getString("app_version"))
        }
    }
}
