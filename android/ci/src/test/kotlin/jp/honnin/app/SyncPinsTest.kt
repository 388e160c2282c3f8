package jp.honnin.app

import jp.honnin.app.flow.Item
import jp.honnin.app.keys.DeviceKeySigner
import jp.honnin.app.nfc.IsoDepTransport
import jp.honnin.app.nfc.TagHandoff
import jp.honnin.app.records.EnrolOutcome
import jp.honnin.app.records.ReceiverLink
import jp.honnin.app.records.SyncOutcome
import jp.honnin.app.sync.runAgain
import jp.honnin.core.CheckRequest
import jp.honnin.core.DoorCheckReport
import jp.honnin.core.SoftwareCardTransport
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.util.Base64

/**
 * The receiver's TLS key pins on the handheld, with the app's [CoreRecords] over the real store,
 * the real receiver and the app's own [DeviceSettings] (over SharedPreferences in memory): an
 * enrolment an older app version stored (one pin) still syncs after the update; the sync job
 * keeps the pins the receiver announced in one commit with the receipt key, and connects with
 * them next time, after the operator switched the TLS key; a re-enrolment forgets them.
 */
class SyncPinsTest {
    private val item = Item("JP-0001", "test-bank", Fixtures.holder)

    private fun check(): DoorCheckReport {
        val card = SoftwareCardTransport("genuine")
        val request = CheckRequest(item.itemId, item.senderId, Fixtures.DEVICE_ID, item.addressee)
        return Fixtures.verifier.checkLevelB(IsoDepTransport(FakeIsoDep(card), TagHandoff()), request, card.secrets().authPin)
    }

    @Test
    fun `the sync job keeps the announced pins with the enrolment and uses them after the TLS key changed`(@TempDir dir: File) {
        ReceiverProcess(dir).use { receiver ->
            val firstPin = receiver.pin
            val code = receiver.enrolmentCode(Fixtures.DEVICE_ID)
            var url = receiver.start()
            // Enrolled by the app before pin sets: it stored exactly these three values.
            val before = RealRecords(dir)
            assertTrue(before.core.enrol(url, code.toCharArray(), firstPin) is EnrolOutcome.Enrolled)
            val enrolled = checkNotNull(before.enrolments.link)
            val prefs = MapPreferences(
                mapOf(
                    "device_id" to Fixtures.DEVICE_ID,
                    "receiver_url" to url,
                    "receiver_key" to Base64.getEncoder().encodeToString(enrolled.receiverKey),
                    "receiver_tls_pin" to firstPin,
                ),
            )
            // The updated app reads it as it was: the enrolment's pin, nothing announced yet.
            val settings = DeviceSettings(prefs)
            val link = checkNotNull(settings.receiverLink())
            assertEquals(firstPin, link.tlsPin)
            assertNull(link.announcedPins)
            assertArrayEquals(enrolled.receiverKey, link.receiverKey)
            val core = CoreRecords(
                storeFile = before.storeFile,
                storeKey = before.keyProvider,
                signer = DeviceKeySigner(before.deviceKey),
                deviceId = Fixtures.DEVICE_ID,
                courierId = { "courier-7" },
                enrolments = settings,
                clock = WallClock,
                attemptsPerSync = 2u,
            )

            // The operator announces the next TLS key; the job's sync keeps the pins.
            val next = File(dir, "next-tls")
            val nextPin = receiver.makeTlsIdentity(next)
            receiver.announceTlsKey(File(next, "cert.pem"))
            core.append(check(), item)
            val commits = prefs.commits
            assertEquals(SyncOutcome.Done(sent = 1, remaining = 0), core.syncPending())
            assertEquals(commits + 1, prefs.commits, "the pins are kept in one commit")
            val kept = checkNotNull(checkNotNull(settings.receiverLink()).announcedPins) { "the announced pins are kept" }
            assertEquals(listOf(firstPin, nextPin), kept.pins)
            assertEquals(firstPin, settings.receiverLink()?.tlsPin, "the enrolment's pin stays beside them")

            // The operator installs the next key. The device still on the enrolment's pin alone
            // is refused (and the job does not retry); the one that kept the pins syncs on.
            receiver.stop()
            receiver.installTlsIdentity(next)
            url = receiver.start()
            prefs.edit().putString("receiver_url", url).commit()
            before.enrolments.link = ReceiverLink(url, enrolled.receiverKey, firstPin)
            val refused = before.core.syncPending()
            assertTrue(refused is SyncOutcome.Failed && refused.detail.contains("UntrustedReceiver"), "$refused")
            assertFalse(runAgain(refused))
            core.append(check(), item)
            assertEquals(SyncOutcome.Done(sent = 1, remaining = 0), core.syncPending())
            assertEquals(listOf(nextPin), settings.receiverLink()?.announcedPins?.pins, "the retired key is dropped")
            assertTrue(core.since(0).all { it.isSynced })

            // A new enrolment (a replacement) starts again from the pin given with its code.
            settings.remember(ReceiverLink(url, enrolled.receiverKey, nextPin))
            assertNull(settings.receiverLink()?.announcedPins)
            assertFalse(prefs.contains("receiver_tls_pins"))
        }
    }
}
