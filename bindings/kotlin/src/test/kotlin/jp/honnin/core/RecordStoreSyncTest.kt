package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files

/**
 * The record store, enrolment, sync and record verification through the generated bindings: a
 * Kotlin device signer (java.security EC P-256, SHA256withECDSA, DER signatures) and key provider,
 * a real SQLite store file, and the real `honnin-receiver` binary on loopback.
 */
class RecordStoreSyncTest {
    private val sender = Fixtures.request().senderId
    private val device = Fixtures.request().deviceId

    private fun checkOf(verification: RecordVerification, id: String): RecordCheck =
        verification.checks.first { it.check == id }

    @Test
    fun `a level B record is stored, synced to a real receiver and re-verified from the sender's feed`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val token = receiver.addSender(sender)
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()

            val signer = JavaSecuritySigner()
            val keys = TestKeyProvider()
            val store = Records.open(dir, keys, signer)
            val report = Records.checkB("JP-ITEM-0001")
            assertEquals(Verdict.GENUINE, report.verdict())
            val appended = store.append(report, "courier-7", RecordAttributes(name = true))
            assertEquals(1uL, appended.position)
            assertEquals(32, appended.hash.size)
            assertEquals(1, signer.signatures.get())

            val listed = store.records()
            assertEquals(1, listed.size)
            with(listed[0]) {
                assertEquals(appended.recordId, recordId)
                assertEquals("JP-ITEM-0001", itemId)
                assertEquals(sender, senderId)
                assertEquals("courier-7", courierId)
                assertEquals(Level.B, level)
                assertEquals(Verdict.GENUINE, verdict)
                assertEquals(TestClock.SECONDS, recordedAt)
                assertNull(syncedAt)
                assertNull(problem)
            }
            assertEquals(1uL, store.pendingSyncCount())
            assertEquals(device, store.summary().deviceId)
            // The record is encrypted at rest: neither the parcel nor the holder's name is in the
            // database or its write-ahead log.
            for (name in listOf("records.db", "records.db-wal")) {
                val file = dir.resolve(name)
                if (!Files.exists(file)) continue
                val bytes = String(Files.readAllBytes(file), Charsets.ISO_8859_1)
                for (needle in listOf("JP-ITEM-0001", "試験")) {
                    assertFalse(bytes.contains(String(needle.toByteArray(), Charsets.ISO_8859_1)), "$needle in $name")
                }
            }

            val enrolment = store.enrol(Records.config(url, receiver.pin), code)
            assertEquals(64, enrolment.receiverKeyId.length)
            assertEquals(receiver.pin, enrolment.receiverTlsPin)
            val listener = RecordingSyncListener()
            val summary = store.sync(Records.config(url, receiver.pin), enrolment.receiverKey, listener)
            // The sync also took the receiver's TLS pins (the key it serves) and the manifest
            // (no item registered yet: an empty one).
            assertEquals(listOf(receiver.pin), summary.tlsPins?.pins)
            val manifest = summary.manifest as? ManifestUpdate.Kept ?: throw AssertionError("not kept: ${summary.manifest}")
            assertTrue(manifest.manifest.items.isEmpty())
            assertEquals(
                SyncSummary(
                    synced = 1u, duplicates = 0u, flaggedByReceiver = 0u, requests = 1u, pending = 0u,
                    newReceiverKey = null, tlsPins = summary.tlsPins, manifest = summary.manifest,
                    trustBundle = TrustBundleUpdate.NoneLoaded,
                ),
                summary,
            )
            assertEquals(listOf(SyncProgress(batch = 1u, attempt = 1u, recordsInBatch = 1u, synced = 0u, pending = 1u)), listener.events)
            assertEquals(0uL, store.pendingSyncCount())
            assertNotNull(store.records().single().syncedAt, "marked synced on its verified receipt")
            assertTrue(store.verifyChain().intact)

            // The sender's side: its feed holds the record, and it verifies with the device key
            // the sender learnt at enrolment (here: the signer's), its anchors and the parcel.
            val entry = receiver.feed(token).single()
            assertEquals(appended.recordId, recordIdentity(entry).recordId)
            val expectation = RecordExpectation(signer.publicKeyDer(), "JP-ITEM-0001", sender)
            val verification = verifyRecord(entry, Fixtures.verifier, expectation)
            assertTrue(verification.verified, verification.checks.toString())
            assertEquals(Verdict.GENUINE, verification.recordedVerdict)
            for (id in listOf("device_signature", "chain_link", "item_binding", "challenge_digest", "certificate_chain", "challenge_signature")) {
                assertEquals(CheckState.PASSED, checkOf(verification, id).state, id)
            }
            assertEquals(CheckState.NOT_CHECKED, checkOf(verification, "revocation").state)
            // The device's own copy is the same record.
            val envelope = store.recordEnvelope("#1")
            assertArrayEquals(appended.hash, recordIdentity(envelope).chain.hash)

            // A second record follows the first in the chain, as the sender can check.
            val second = store.append(Records.checkB("JP-ITEM-0002"), "courier-7")
            val next = verifyRecord(
                store.recordEnvelope(second.recordId), Fixtures.verifier,
                RecordExpectation(signer.publicKeyDer(), "JP-ITEM-0002", sender, previous = recordIdentity(envelope).chain),
            )
            assertTrue(next.verified, next.checks.toString())
            assertEquals(CheckState.PASSED, checkOf(next, "chain_link").state)
            assertEquals(listOf(2uL, 1uL), store.records().map { it.position })
            assertEquals(listOf(2uL, 1uL), store.recordsBetween(TestClock.SECONDS, TestClock.SECONDS + 1).map { it.position })
            assertEquals(emptyList<RecordSummary>(), store.recordsBetween(0, TestClock.SECONDS))
            // "Today" by the store's clock, in the zone's local day (Japan: UTC+9).
            val onCheckDay = RecordStore.open(dir.resolve("records.db").toString(), keys, signer, TestClock)
            assertEquals(2, onCheckDay.todaysRecords(9 * 3600).size)
        }
    }

    @Test
    fun `a tampered or foreign record fails verification at the check that catches it`() {
        val dir = Records.tempDir()
        val signer = JavaSecuritySigner()
        val store = Records.open(dir, signer = signer)
        val appended = store.append(Records.checkB("JP-ITEM-0001"), "courier-7")
        val envelope = String(store.recordEnvelope(appended.recordId))

        // Moved to another parcel: the device signature no longer covers the body.
        val moved = envelope.replace("JP-ITEM-0001", "JP-ITEM-0009").toByteArray()
        val verification = verifyRecord(moved, Fixtures.verifier, RecordExpectation(signer.publicKeyDer(), "JP-ITEM-0009", sender))
        assertFalse(verification.verified)
        with(checkOf(verification, "device_signature")) {
            assertEquals(CheckState.FAILED, state)
            assertEquals("signature_invalid", reasonCode)
        }
        assertEquals(CheckState.FAILED, checkOf(verification, "challenge_digest").state)

        // Intact, but for another item than the sender sent.
        val wrongItem = verifyRecord(envelope.toByteArray(), Fixtures.verifier, RecordExpectation(signer.publicKeyDer(), "JP-ITEM-0002", sender))
        assertFalse(wrongItem.verified)
        assertEquals("item_mismatch", checkOf(wrongItem, "item_binding").reasonCode)
        assertEquals(CheckState.PASSED, checkOf(wrongItem, "device_signature").state)

        // Checked with another device's key.
        val foreign = verifyRecord(envelope.toByteArray(), Fixtures.verifier, RecordExpectation(JavaSecuritySigner().publicKeyDer()))
        assertEquals("foreign_key", checkOf(foreign, "device_signature").reasonCode)

        assertThrows<HonninException.RecordMalformed> {
            verifyRecord("{\"body\":".toByteArray(), Fixtures.verifier, RecordExpectation(signer.publicKeyDer()))
        }
        assertThrows<HonninException.InvalidArgument> {
            verifyRecord(envelope.toByteArray(), Fixtures.verifier, RecordExpectation(byteArrayOf(1, 2, 3)))
        }
    }

    @Test
    fun `sync with the receiver down is Offline and loses nothing, then resumes`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()
            val store = Records.open(dir)
            val enrolment = store.enrol(Records.config(url, receiver.pin), code)
            receiver.stop()

            store.append(Records.checkB("JP-ITEM-0001"), "courier-7")
            store.append(Records.checkB("JP-ITEM-0002"), "courier-7")
            val listener = RecordingSyncListener()
            val offline = assertThrows<HonninException.Offline> {
                store.sync(Records.config(url, receiver.pin, maxAttempts = 2u), enrolment.receiverKey, listener)
            }
            assertEquals(2u, offline.attempts)
            assertEquals(listOf(1u, 2u), listener.events.map { it.attempt }, "the second try is announced as a retry")
            assertEquals(2uL, store.pendingSyncCount())
            assertTrue(store.records().all { it.syncedAt == null && it.problem == null })
            assertTrue(store.verifyChain().intact)

            val again = receiver.start()
            val summary = store.sync(Records.config(again, receiver.pin), enrolment.receiverKey)
            assertEquals(2uL, summary.synced)
            assertEquals(0uL, store.pendingSyncCount())
        }
    }

    @Test
    fun `a cancelled sync stops before its next request and keeps what was acknowledged`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()
            val store = Records.open(dir)
            val enrolment = store.enrol(Records.config(url, receiver.pin), code)
            repeat(3) { store.append(Records.checkB("JP-ITEM-000$it"), "courier-7") }

            val before = CancellationToken().also { it.cancel() }
            assertThrows<HonninException.Cancelled> { store.sync(Records.config(url, receiver.pin), enrolment.receiverKey, cancellation = before) }
            assertEquals(3uL, store.pendingSyncCount())

            // One record per request; cancelled when the second request is announced.
            val token = CancellationToken()
            val listener = RecordingSyncListener { if (it.batch == 2u) token.cancel() }
            assertThrows<HonninException.Cancelled> {
                store.sync(Records.config(url, receiver.pin, batchSize = 1u), enrolment.receiverKey, listener, token)
            }
            assertEquals(
                listOf(
                    SyncProgress(batch = 1u, attempt = 1u, recordsInBatch = 1u, synced = 0u, pending = 3u),
                    SyncProgress(batch = 2u, attempt = 1u, recordsInBatch = 1u, synced = 1u, pending = 3u),
                ),
                listener.events,
            )
            assertEquals(2uL, store.pendingSyncCount(), "the first batch was acknowledged before the cancel")
            assertEquals(listOf(false, false, true), store.records().map { it.syncedAt != null })

            val rest = store.sync(Records.config(url, receiver.pin, batchSize = 1u), enrolment.receiverKey)
            assertEquals(2uL, rest.synced)
            assertEquals(2u, rest.requests)
            assertEquals(0uL, store.pendingSyncCount())
        }
    }

    @Test
    fun `a receipt that does not verify leaves the record pending, and enrolment and device errors are typed`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()
            val signer = JavaSecuritySigner()
            val store = Records.open(dir, signer = signer)
            val refused = assertThrows<HonninException.ReceiverRefused> { store.enrol(Records.config(url, receiver.pin), "not-the-code") }
            // Another TLS key than the pinned one: refused before anything is sent.
            val otherPin = "sha256/" + java.util.Base64.getEncoder().encodeToString(ByteArray(32) { 7 })
            assertThrows<HonninException.UntrustedReceiver> { store.enrol(Records.config(url, otherPin), code) }
            // Plain HTTP is refused unless allowed explicitly, and then only to loopback.
            val plain = Records.config(url.replace("https://", "http://"), receiver.pin).copy(receiverPin = null)
            assertThrows<HonninException.InvalidArgument> { store.enrol(plain, code) }
            assertThrows<HonninException.InvalidArgument> {
                store.enrol(plain.copy(baseUrl = "http://receiver.example", allowLoopbackHttp = true), code)
            }
            assertTrue(refused.status.toInt() in 400..499, "${refused.status}")
            val enrolment = store.enrol(Records.config(url, receiver.pin), code)
            store.append(Records.checkB(), "courier-7")

            // Another device's id against this store: both receiver calls refuse it before any
            // request, and nothing is marked.
            val otherDevice = Records.config(url, receiver.pin).copy(deviceId = "handheld-99")
            assertThrows<HonninException.InvalidArgument> { store.sync(otherDevice, enrolment.receiverKey) }
            assertThrows<HonninException.InvalidArgument> { store.fetchManifest(otherDevice, enrolment.receiverKey) }
            assertEquals(1uL, store.pendingSyncCount())

            // A wrong receipt key (here the device's own): the receiver's key is not reached by
            // any rotation it signed, so nothing is sent (before rotations were followed, the
            // receipts were refused after the batch: BadReceipt).
            assertThrows<HonninException.ReceiptKeyRotationRefused> { store.sync(Records.config(url, receiver.pin), signer.publicKeyDer()) }
            assertEquals(1uL, store.pendingSyncCount())

            // With the receiver's key it syncs.
            val summary = store.sync(Records.config(url, receiver.pin), enrolment.receiverKey)
            assertEquals(1uL, summary.synced)
            assertEquals(0uL, summary.duplicates)
        }
    }

    @Test
    fun `store, key provider and signer failures are typed exceptions`() {
        val dir = Records.tempDir()
        val path = dir.resolve("records.db").toString()
        assertThrows<HonninException.StoreNotFound> {
            RecordStore.open(path, TestKeyProvider(), JavaSecuritySigner(), WallClock, createIfMissing = false)
        }
        val keys = TestKeyProvider()
        val store = RecordStore.open(path, keys, JavaSecuritySigner(), WallClock)
        store.append(Records.checkB(), "courier-7")
        assertThrows<HonninException.StoreWrongKey> { RecordStore.open(path, TestKeyProvider(), JavaSecuritySigner(), WallClock) }
        assertThrows<HonninException.StoreKeyUnavailable> {
            RecordStore.open(path, TestKeyProvider(ByteArray(16)), JavaSecuritySigner(), WallClock)
        }
        assertThrows<HonninException.StoreKeyUnavailable> {
            RecordStore.open(path, TestKeyProvider(failWith = KeyProviderException.Unavailable("device locked")), JavaSecuritySigner(), WallClock)
        }
        val threw = assertThrows<HonninException.CallbackFailed> {
            RecordStore.open(path, TestKeyProvider(failWith = IllegalStateException("keystore gone")), JavaSecuritySigner(), WallClock)
        }
        assertEquals("KeyProvider.storeKey", threw.method)

        // The store is bound to its first record's device key.
        val other = RecordStore.open(path, keys, JavaSecuritySigner(), WallClock)
        assertThrows<HonninException.ForeignDevice> { other.append(Records.checkB(), "courier-7") }

        val fresh = Records.tempDir()
        val freshKeys = TestKeyProvider()
        val locked = JavaSecuritySigner(failWith = DeviceSignerException.KeyUnavailable("user not authenticated"))
        assertThrows<HonninException.DeviceKeyFailed> { Records.open(fresh, freshKeys, locked).append(Records.checkB(), "courier-7") }
        val broken = JavaSecuritySigner(failWith = IllegalStateException("bug"))
        val failed = assertThrows<HonninException.CallbackFailed> { Records.open(fresh, freshKeys, broken).append(Records.checkB(), "courier-7") }
        assertEquals("DeviceSigner.sign", failed.method)
        assertEquals(0uL, Records.open(fresh, freshKeys).summary().records, "nothing was stored")

        // A record is made only for the parcel its check was made for: an unusable courier id.
        assertThrows<HonninException.RecordRejected> { store.append(Records.checkB(), "") }
        assertThrows<HonninException.NoSuchRecord> { store.recordEnvelope("#99") }
    }
}
