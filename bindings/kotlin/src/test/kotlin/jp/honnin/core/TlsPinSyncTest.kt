package jp.honnin.core

import com.sun.net.httpserver.HttpsConfigurator
import com.sun.net.httpserver.HttpsServer
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.net.InetSocketAddress
import java.net.URI
import java.nio.file.Files
import java.nio.file.Path
import java.security.KeyFactory
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.MessageDigest
import java.security.Signature
import java.security.cert.CertificateFactory
import java.security.cert.X509Certificate
import java.security.spec.ECGenParameterSpec
import java.security.spec.PKCS8EncodedKeySpec
import java.util.Base64
import java.util.Collections
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLSocket
import javax.net.ssl.X509TrustManager

/**
 * A TLS key rotation of a receiver that handhelds pin, through the generated bindings and the
 * real `honnin-receiver` on loopback: the operator announces the next key, a device syncs and
 * gets the pins (signed by the receipt key) to keep, the operator installs the new certificate
 * (taken without a restart), and the device syncs on with the kept pins; one that never synced
 * the announcement gets the pin error. Announcements that are forged, tampered with or
 * replayed are refused before anything is sent.
 */
class TlsPinSyncTest {
    private val device = Fixtures.request().deviceId
    private val b64 = Base64.getEncoder()

    /** As the app keeps them: the announced set, with when it was signed. */
    private fun keptConfig(url: String, pins: AnnouncedTlsPins) = ReceiverConfig(
        baseUrl = url, deviceId = device, receiverPins = pins.pins,
        receiverPinsIssuedAt = pins.issuedAt, maxAttempts = 3u, timeoutSeconds = 10u,
    )

    @Test
    fun `a device that kept the announced pins syncs on after the operator switches the TLS key`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val firstPin = receiver.pin
            val code = receiver.enrolmentCode(device)
            val otherCode = receiver.enrolmentCode("handheld-other")
            val url = receiver.start()
            val store = Records.open(dir.resolve("a").also(Files::createDirectories))
            val key = store.enrol(Records.config(url, firstPin), code).receiverKey
            val other = Records.open(dir.resolve("b").also(Files::createDirectories))
            val otherConfig = Records.config(url, firstPin).copy(deviceId = "handheld-other")
            val otherKey = other.enrol(otherConfig, otherCode).receiverKey

            // Before any announcement the receiver lists the key it serves.
            val first = checkNotNull(store.sync(Records.config(url, firstPin), key).tlsPins)
            assertEquals(listOf(firstPin), first.pins)

            // The operator makes the next identity ahead and announces it; the device syncs.
            val next = dir.resolve("next-tls")
            val nextPin = receiver.makeTlsIdentity(next)
            receiver.announceTlsKey(next.resolve("cert.pem"))
            store.append(Records.checkB("JP-ITEM-0001"), "courier-7")
            val announced = store.sync(keptConfig(url, first), key)
            assertEquals(1uL, announced.synced)
            val kept = checkNotNull(announced.tlsPins) { "the announced pins are handed over to keep" }
            assertEquals(listOf(firstPin, nextPin), kept.pins)
            assertTrue(kept.issuedAt >= first.issuedAt)

            // The operator installs the next certificate; the receiver serves it without a restart.
            receiver.installTlsIdentity(next)
            // The receiver looks for new files every 10 s; 60 s outlasts a loaded machine.
            val deadline = System.nanoTime() + 60_000_000_000L
            while (servedPin(url) != nextPin) {
                check(System.nanoTime() < deadline) { "the receiver did not take the new TLS key" }
                Thread.sleep(250)
            }

            // The device with the kept pins syncs on; the old key, no longer listed, is dropped.
            store.append(Records.checkB("JP-ITEM-0002"), "courier-7")
            val after = store.sync(keptConfig(url, kept), key)
            assertEquals(1uL, after.synced)
            assertEquals(listOf(nextPin), checkNotNull(after.tlsPins).pins)
            assertEquals(0uL, store.pendingSyncCount())

            // The device that never synced the announcement only has the enrolment's pin.
            val refused = assertThrows<HonninException.UntrustedReceiver> { other.sync(otherConfig, otherKey) }
            assertTrue(refused.detail.contains("not the one pinned at enrolment") && refused.detail.contains(firstPin), refused.detail)

            // The enrolment's pin and a set are never given together.
            assertThrows<HonninException.InvalidArgument> {
                store.sync(keptConfig(url, after.tlsPins!!).copy(receiverPin = nextPin), key)
            }
            // An announcement a moment older than the kept one (another instance's clock) is
            // passed over quietly: nothing new to keep, the sync goes on.
            val skewed = after.tlsPins!!.copy(issuedAt = after.tlsPins!!.issuedAt + 60)
            assertNull(store.sync(keptConfig(url, skewed), key).tlsPins)
        }
    }

    @Test
    fun `forged, tampered and replayed announcements are refused and nothing is sent`() {
        val dir = Records.tempDir()
        ReceiverProcess(dir).use { receiver ->
            val pin = receiver.pin
            val code = receiver.enrolmentCode(device)
            val url = receiver.start()
            val store = Records.open(dir)
            val key = store.enrol(Records.config(url, pin), code).receiverKey
            val kept = checkNotNull(store.sync(Records.config(url, pin), key).tlsPins)
            val genuine = receiver.receiptKeyAnnouncement().getJSONObject("tls_pins")
            receiver.stop()
            store.append(Records.checkB("JP-ITEM-0001"), "courier-7")

            // Someone holding the receiver's TLS key (so the pin passes) but not its receipt key.
            val attacker = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()
            val attackerPin = "sha256/" + b64.encodeToString(MessageDigest.getInstance("SHA-256").digest(attacker.public.encoded))
            val body = JSONObject(mapOf("format" to "honnin.tls-pins.v1", "issued_at" to System.currentTimeMillis() / 1000, "pins" to JSONArray(listOf(attackerPin))))
            val signedByAttacker = JSONObject(mapOf("announcement" to body, "signature" to b64.encodeToString(rawSignature(attacker.private, canonical(body)))))
            // The receiver's own announcement with the attacker's pin added.
            val tampered = JSONObject(genuine.toString()).apply { getJSONObject("announcement").getJSONArray("pins").put(attackerPin) }

            for ((what, announcement) in listOf("signed by another key" to signedByAttacker, "a pin added" to tampered)) {
                FakeReceiver(receiver.tlsDirectory, key, announcement).use { fake ->
                    val refused = assertThrows<HonninException.TlsPinsRefused>(what) { store.sync(keptConfig(fake.url, kept), key) }
                    assertTrue(refused.detail.contains("not signed by the receiver's receipt key"), refused.detail)
                    assertEquals(listOf("/v1/receipt-key"), fake.requests, "$what: nothing sent")
                }
            }
            // The genuine announcement replayed to a device that kept one signed an hour later.
            FakeReceiver(receiver.tlsDirectory, key, genuine).use { fake ->
                val later = kept.copy(issuedAt = genuine.getJSONObject("announcement").getLong("issued_at") + 3600)
                val refused = assertThrows<HonninException.TlsPinsRefused> { store.sync(keptConfig(fake.url, later), key) }
                assertTrue(refused.detail.contains("before the one kept"), refused.detail)
                assertEquals(listOf("/v1/receipt-key"), fake.requests)
            }
            assertEquals(1uL, store.pendingSyncCount(), "the record stays pending")
        }
    }

    /** The pin of the key the server at [url] presents now (trusting anything, to look only). */
    private fun servedPin(url: String): String {
        val uri = URI.create(url)
        val context = SSLContext.getInstance("TLS").apply { init(null, arrayOf(TrustAll), null) }
        (context.socketFactory.createSocket(uri.host, uri.port) as SSLSocket).use { socket ->
            socket.startHandshake()
            val certificate = socket.session.peerCertificates[0] as X509Certificate
            return "sha256/" + b64.encodeToString(MessageDigest.getInstance("SHA-256").digest(certificate.publicKey.encoded))
        }
    }

    private object TrustAll : X509TrustManager {
        override fun checkClientTrusted(chain: Array<X509Certificate>, authType: String) = Unit
        override fun checkServerTrusted(chain: Array<X509Certificate>, authType: String) = Unit
        override fun getAcceptedIssuers(): Array<X509Certificate> = emptyArray()
    }

    /** JSON with keys sorted and no spaces, as honnin signs it (the body here has no escapes). */
    private fun canonical(value: Any?): String = when (value) {
        is JSONObject -> value.keySet().sorted().joinToString(",", "{", "}") { JSONObject.quote(it) + ":" + canonical(value.get(it)) }
        is JSONArray -> (0 until value.length()).joinToString(",", "[", "]") { canonical(value.get(it)) }
        is String -> JSONObject.quote(value)
        else -> value.toString()
    }

    /** ECDSA P-256 over SHA-256 as r‖s (what honnin's signatures carry), from Java's DER. */
    private fun rawSignature(key: java.security.PrivateKey, text: String): ByteArray {
        val der = Signature.getInstance("SHA256withECDSA").run { initSign(key); update(text.toByteArray()); sign() }
        var at = if (der[1].toInt() and 0x80 != 0) 3 else 2
        fun integer(): ByteArray {
            val length = der[at + 1].toInt()
            val bytes = der.copyOfRange(at + 2, at + 2 + length)
            at += 2 + length
            return bytes.dropWhile { it == 0.toByte() }.toByteArray().let { ByteArray(32 - it.size) + it }
        }
        return integer() + integer()
    }
}

/**
 * An HTTPS server on loopback with the receiver's own TLS identity (its pin passes) that
 * answers `GET /v1/receipt-key` with the device's trusted key, no rotation and [announcement],
 * and 404 to anything else; it records the paths asked for.
 */
private class FakeReceiver(tlsDir: Path, receiptKey: ByteArray, announcement: JSONObject) : AutoCloseable {
    val requests: MutableList<String> = Collections.synchronizedList(mutableListOf())
    private val server: HttpsServer

    init {
        val certificate = Files.newInputStream(tlsDir.resolve("cert.pem")).use {
            CertificateFactory.getInstance("X.509").generateCertificate(it)
        }
        val pem = Files.readString(tlsDir.resolve("key.pem"))
        val der = Base64.getMimeDecoder().decode(pem.substringAfter("-----BEGIN PRIVATE KEY-----").substringBefore("-----END"))
        val key = KeyFactory.getInstance("EC").generatePrivate(PKCS8EncodedKeySpec(der))
        val password = CharArray(0)
        val store = KeyStore.getInstance("PKCS12").apply { load(null); setKeyEntry("tls", key, password, arrayOf(certificate)) }
        val keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm()).apply { init(store, password) }
        val context = SSLContext.getInstance("TLS").apply { init(keys.keyManagers, null, null) }
        val answer = JSONObject(mapOf(
            "receipt_key" to Base64.getEncoder().encodeToString(receiptKey),
            "rotations" to JSONArray(),
            "tls_pins" to announcement,
        )).toString().toByteArray()
        server = HttpsServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
            httpsConfigurator = HttpsConfigurator(context)
            createContext("/") { exchange ->
                requests.add(exchange.requestURI.path)
                val found = exchange.requestURI.path == "/v1/receipt-key"
                val body = if (found) answer else "{}".toByteArray()
                exchange.responseHeaders.add("Content-Type", "application/json")
                exchange.sendResponseHeaders(if (found) 200 else 404, body.size.toLong())
                exchange.responseBody.use { it.write(body) }
            }
            start()
        }
    }

    val url: String get() = "https://127.0.0.1:${server.address.port}"

    override fun close() = server.stop(0)
}
