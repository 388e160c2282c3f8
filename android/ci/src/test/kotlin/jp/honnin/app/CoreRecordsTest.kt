package jp.honnin.app

import android.security.keystore.UserNotAuthenticatedException
import jp.honnin.app.flow.Item
import jp.honnin.app.keys.DeviceKeySigner
import jp.honnin.app.keys.WrappedKeyFile
import jp.honnin.app.keys.WrappedStoreKeyProvider
import jp.honnin.app.nfc.IsoDepTransport
import jp.honnin.app.nfc.TagHandoff
import jp.honnin.app.records.EnrolOutcome
import jp.honnin.app.records.SyncOutcome
import jp.honnin.app.sync.runAgain
import jp.honnin.core.CheckRequest
import jp.honnin.core.DeviceSignerException
import jp.honnin.core.KeyProviderException
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.Verdict
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.security.ProviderException

/**
 * [CoreRecords] and the key adapters against the real store and the real receiver: what
 * enrolment keeps, what the sync job is told when the receiver is away or not the pinned one.
 */
class CoreRecordsTest {
    private val item = Item("JP-0001", "test-bank", Fixtures.holder)

    /** A genuine level B check of [item], stored through [records]. */
    private fun storeOne(records: CoreRecords) {
        val card = SoftwareCardTransport("genuine")
        val request = CheckRequest(item.itemId, item.senderId, Fixtures.DEVICE_ID, item.addressee)
        val report = Fixtures.verifier.checkLevelB(IsoDepTransport(FakeIsoDep(card), TagHandoff()), request, card.secrets().authPin)
        assertEquals(Verdict.GENUINE, report.verdict())
        records.append(report, item)
    }

    private fun failed(outcome: SyncOutcome): SyncOutcome.Failed =
        outcome as? SyncOutcome.Failed ?: throw AssertionError("expected a failed sync, got $outcome")

    @Test
    fun `enrolment over a wrong pin is refused and nothing is remembered`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(Fixtures.DEVICE_ID)
            val url = receiver.start()
            val real = RealRecords(dir)
            val otherKey = "sha256/" + java.util.Base64.getEncoder().encodeToString(ByteArray(32) { 7 })
            val refused = real.core.enrol(url, code.toCharArray(), otherKey)
            assertTrue(refused is EnrolOutcome.Failed && refused.detail.startsWith("UntrustedReceiver"), refused.toString())
            assertNull(real.enrolments.link)
            assertEquals(SyncOutcome.NotEnrolled, real.core.syncPending())

            val garbled = real.core.enrol(url, code.toCharArray(), "not-a-pin")
            assertTrue(garbled is EnrolOutcome.Failed && garbled.detail.startsWith("InvalidArgument"), garbled.toString())
            // The code was not spent by the refused attempts: the right pin enrols with it.
            val enrolled = real.core.enrol(url, code.toCharArray(), receiver.pin)
            assertTrue(enrolled is EnrolOutcome.Enrolled, enrolled.toString())
        }
    }

    @Test
    fun `sync accepts only the pinned key, so a receiver serving another key gets nothing`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(Fixtures.DEVICE_ID)
            val url = receiver.start()
            val real = RealRecords(dir)
            assertTrue(real.core.enrol(url, code.toCharArray(), receiver.pin) is EnrolOutcome.Enrolled)
            storeOne(real.core)

            // Same address, same database, another TLS key (as a machine in the middle would have).
            receiver.stop()
            receiver.replaceTlsKey()
            val impostor = receiver.start()
            val link = checkNotNull(real.enrolments.link)
            real.enrolments.link = jp.honnin.app.records.ReceiverLink(impostor, link.receiverKey, link.tlsPin)
            val refused = failed(real.core.syncPending())
            assertTrue(refused.detail.startsWith("UntrustedReceiver"), refused.detail)
            assertFalse(refused.retryable, "waiting does not make another key the pinned one")
            assertFalse(runAgain(refused))
            assertTrue(real.core.since(0).single().syncedAtUnixSeconds == null, "the record is still pending")
        }
    }

    @Test
    fun `a receiver that is away leaves the record pending and the job retrying, then it syncs`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(Fixtures.DEVICE_ID)
            val url = receiver.start()
            val real = RealRecords(dir, attemptsPerSync = 2u)
            assertTrue(real.core.enrol(url, code.toCharArray(), receiver.pin) is EnrolOutcome.Enrolled)
            receiver.stop()
            storeOne(real.core)
            storeOne(real.core)

            val away = failed(real.core.syncPending())
            assertTrue(away.detail.startsWith("Offline"), away.detail)
            assertTrue(away.retryable && runAgain(away), "the job runs again with its backoff")
            assertTrue(real.core.since(0).none { it.isSynced })

            val back = receiver.start()
            real.enrolments.link = checkNotNull(real.enrolments.link).let { jp.honnin.app.records.ReceiverLink(back, it.receiverKey, it.tlsPin) }
            val done = real.core.syncPending()
            assertEquals(SyncOutcome.Done(sent = 2, remaining = 0), done)
            assertFalse(runAgain(done))
            assertTrue(real.core.since(0).all { it.isSynced })
        }
    }

    @Test
    fun `Keystore failures reach the core as the signer's and key provider's own kinds`(@TempDir dir: File) {
        val locked = DeviceKeySigner(JceDeviceKey(failWith = UserNotAuthenticatedException()))
        assertThrows<DeviceSignerException.KeyUnavailable> { locked.sign(byteArrayOf(1)) }
        val broken = DeviceKeySigner(JceDeviceKey(failWith = ProviderException("Keystore operation failed")))
        assertThrows<DeviceSignerException.SigningFailed> { broken.sign(byteArrayOf(1)) }

        val storeFile = File(dir, "records.db")
        val keyFile = File(dir, "store-key.wrapped")
        val wrapper = JceKeyWrapper()
        val provider = WrappedStoreKeyProvider(WrappedKeyFile(keyFile, wrapper), storeFile)
        provider.storeKey() // made
        val key = provider.storeKey() // unwrapped
        assertTrue(key.any { it.toInt() != 0 })
        provider.wipeHandedOut()
        assertTrue(key.all { it.toInt() == 0 }, "wiped once the core call returned")

        // Wrapped by a Keystore key that is gone: the key is missing, not merely unavailable.
        val foreign = WrappedStoreKeyProvider(WrappedKeyFile(keyFile, JceKeyWrapper()), storeFile)
        assertThrows<KeyProviderException.Missing> { foreign.storeKey() }
        storeFile.writeBytes(byteArrayOf(0))
        assertTrue(keyFile.delete())
        assertThrows<KeyProviderException.Missing> { provider.storeKey() }
        assertFalse(keyFile.exists(), "no key is made for a store that exists")
    }
}
