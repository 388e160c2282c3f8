package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * The item manifest through the generated bindings: the sender registers items with the real
 * `honnin-receiver`, the device downloads its manifest over pinned TLS, and looks items up
 * offline; a manifest that does not verify is refused and the kept one stays in use.
 */
class ManifestTest {
    private val sender = Fixtures.request().senderId
    private val device = Fixtures.request().deviceId

    @Test
    fun `the device downloads its signed manifest and looks items up offline`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val token = receiver.addSender(sender)
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()
            val items = """[
                {"item_id": "JP-ITEM-0001", "device_id": "$device", "addressee_name": "試験 花子",
                 "min_level": "B", "attributes": ["name", "birth_date"]},
                {"item_id": "JP-ITEM-0002", "device_id": "another-handheld", "addressee_name": "試験 太郎",
                 "min_level": "A"}]"""
            assertEquals(200, receiver.registerItems(token, items))

            val store = Records.open(dir)
            val config = Records.config(url, receiver.pin)
            val enrolment = store.enrol(config, code)
            assertNull(store.manifest(enrolment.receiverKey, device), "nothing before the first download")

            val manifest = store.fetchManifest(config, enrolment.receiverKey)
            assertEquals(listOf("JP-ITEM-0001"), manifest.items.map { it.itemId }, "only this device's items")
            val item = store.manifestItem(enrolment.receiverKey, device, " JP-ITEM-0001 ")!!
            assertEquals(sender, item.senderId)
            assertEquals("試験 花子", item.addresseeName)
            assertEquals(Level.B, item.minLevel)
            assertEquals(listOf(Level.B, Level.C), item.allowedLevels)
            assertEquals(RecordAttributes(name = true, birthDate = true), item.attributes)
            assertNull(store.manifestItem(enrolment.receiverKey, device, "JP-ITEM-0002"))

            // Signed by another key than the receiver's: refused, and the kept one stays.
            val stranger = JavaSecuritySigner().publicKeyDer()
            assertThrows<HonninException.ManifestInvalid> { store.fetchManifest(config, stranger) }
            assertThrows<HonninException.ManifestInvalid> { store.manifest(stranger, device) }
            assertThrows<HonninException.ManifestInvalid> { store.manifest(enrolment.receiverKey, "another-handheld") }
            assertEquals(Level.B, store.manifestItem(enrolment.receiverKey, device, "JP-ITEM-0001")!!.minLevel)

            // Offline: the download is Offline, the kept manifest still answers.
            receiver.stop()
            val offline = assertThrows<HonninException.Offline> {
                store.fetchManifest(Records.config(url, receiver.pin, maxAttempts = 1u), enrolment.receiverKey)
            }
            assertTrue(offline.attempts >= 1u)
            assertEquals("JP-ITEM-0001", store.manifest(enrolment.receiverKey, device)!!.items.single().itemId)
        }
    }
}
