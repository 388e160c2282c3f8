package jp.honnin.core

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.cert.CertificateFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import java.security.SecureRandom
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import java.util.Collections
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import org.json.JSONObject

/** The machine's clock: sync requests carry the time and the receiver checks it against its own. */
object WallClock : Clock {
    override fun nowUnixSeconds(): Long = System.currentTimeMillis() / 1000
}

/**
 * A device signer as the app builds it over the Android Keystore: an EC P-256 key used through
 * `Signature("SHA256withECDSA")`, which returns DER. Here the key is a java.security one in memory.
 */
class JavaSecuritySigner(
    /** Throw this from `sign` instead of signing. */
    var failWith: Exception? = null,
) : DeviceSigner {
    private val pair = KeyPairGenerator.getInstance("EC")
        .apply { initialize(ECGenParameterSpec("secp256r1")) }
        .generateKeyPair()
    val signatures = AtomicInteger()

    override fun publicKeyDer(): ByteArray = pair.public.encoded

    override fun sign(message: ByteArray): ByteArray {
        failWith?.let { throw it }
        signatures.incrementAndGet()
        return Signature.getInstance("SHA256withECDSA").run {
            initSign(pair.private)
            update(message)
            sign()
        }
    }
}

/** The store key, as the app would unwrap it with a Keystore key; counts the calls. */
class TestKeyProvider(
    private val key: ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) },
    /** Throw this instead of answering. */
    var failWith: Exception? = null,
) : KeyProvider {
    val calls = AtomicInteger()

    override fun storeKey(): ByteArray {
        calls.incrementAndGet()
        failWith?.let { throw it }
        return key.copyOf()
    }
}

/** Collects sync progress; optionally acts on each. */
class RecordingSyncListener(private val onEach: (SyncProgress) -> Unit = {}) : SyncListener {
    val events: MutableList<SyncProgress> = Collections.synchronizedList(mutableListOf())

    override fun onProgress(progress: SyncProgress) {
        events.add(progress)
        onEach(progress)
    }
}

/**
 * The real `honnin-receiver` binary as a child process on loopback, on a port the system picks
 * (`--listen 127.0.0.1:0`), with its database in `dir`. Started the way scripts/demo starts it.
 */
class ReceiverProcess(private val dir: Path) : AutoCloseable {
    private val binary: String = System.getProperty("honnin.receiver.bin")
        ?: error("-Dhonnin.receiver.bin is not set: run the tests through scripts/test-kotlin")
    private val db = dir.resolve("receiver.db").toString()
    private var process: Process? = null

    /** The base URL while it runs. */
    var url: String = ""
        private set

    private fun operator(vararg args: String): String {
        val process = ProcessBuilder(listOf(binary, "--db", db) + args)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val out = process.inputStream.bufferedReader().readText()
        check(process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0) { "honnin-receiver ${args.toList()} failed" }
        return out.trim()
    }

    /** Registers a sender; its API token. */
    fun addSender(sender: String): String = operator("add-sender", "--sender", sender)

    /**
     * A one-time enrolment code for [device], enrolled for [senders]: their feeds get its records
     * also for items they did not register (the tests' records are for "test-bank").
     */
    fun enrolmentCode(device: String, vararg senders: String = arrayOf("test-bank")): String =
        operator("enrol-code", "--device", device, *senders.flatMap { listOf("--sender", it) }.toTypedArray())

    private val tlsDir = dir.resolve("tls").toString()

    /** Where the TLS identity it serves lives (`cert.pem`, `key.pem`); reloaded while serving. */
    val tlsDirectory: Path get() = Path.of(tlsDir)

    /** A new self-signed TLS identity in [target] (made by the receiver, as the operator would); its pin. */
    fun makeTlsIdentity(target: Path): String = operator("tls-pin", "--tls-self-signed", target.toString())

    /** `honnin-receiver announce-tls-key --cert`: devices that pin the TLS key learn [cert]'s at their next sync. */
    fun announceTlsKey(cert: Path): String = operator("announce-tls-key", "--cert", cert.toString())

    /**
     * The operator replaces the served certificate and key with those in [source] (each file
     * renamed into place, the key first); the serving receiver takes them without a restart.
     */
    fun installTlsIdentity(source: Path) {
        for (name in listOf("key.pem", "cert.pem")) {
            val staged = Files.copy(source.resolve(name), tlsDirectory.resolve("$name.new"))
            Files.move(staged, tlsDirectory.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE)
        }
    }

    /** `honnin-receiver rotate-receipt-key`: the old key signs the new one for devices. */
    fun rotateReceiptKey(): String = operator("rotate-receipt-key")

    /** `honnin-receiver trust-load`: the anchors of [anchorsDir] and the lists [crls] (DER files). */
    fun trustLoad(anchorsDir: String, crls: List<Path>): String =
        operator("trust-load", "--anchors", anchorsDir, *crls.flatMap { listOf("--crl", it.toString()) }.toTypedArray())

    /** `honnin-receiver devices revoke`: [device] was lost; its later requests are refused. */
    fun revokeDevice(device: String, reason: String): String =
        operator("devices", "revoke", "--device", device, "--reason", reason)

    /** Serves with the TLS identity (and so the pin) of [other]: another receiver at the same key. */
    fun sharingTlsKeyOf(other: ReceiverProcess): ReceiverProcess = apply {
        other.pin // made
        val target = Files.createDirectories(Path.of(tlsDir))
        for (name in listOf("cert.pem", "key.pem")) {
            Files.copy(Path.of(other.tlsDir, name), target.resolve(name))
        }
    }

    /** `GET /v1/receipt-key`: the current receipt key, the keys it replaced, the rotations. */
    fun receiptKeyAnnouncement(): JSONObject {
        val request = HttpRequest.newBuilder(URI.create("$url/v1/receipt-key")).GET().build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "receipt-key: HTTP ${response.statusCode()} ${response.body()}" }
        return JSONObject(response.body())
    }

    /** The pin of the receiver's TLS key (its self-signed certificate, made on first use). */
    val pin: String by lazy { operator("tls-pin", "--tls-self-signed", tlsDir) }

    /** Trusts exactly the receiver's self-signed certificate, for the sender's feed requests. */
    private val http: HttpClient by lazy {
        val certificate = File(tlsDir, "cert.pem").inputStream().use {
            CertificateFactory.getInstance("X.509").generateCertificate(it)
        }
        val store = KeyStore.getInstance(KeyStore.getDefaultType()).apply { load(null); setCertificateEntry("receiver", certificate) }
        val trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(store) }
        val context = SSLContext.getInstance("TLS").apply { init(null, trust.trustManagers, null) }
        HttpClient.newBuilder().sslContext(context).build()
    }

    /** Serves HTTPS with the self-signed certificate; the base URL. */
    fun start(): String {
        pin // made before serving, as the operator does
        val log = File.createTempFile("receiver", ".log", dir.toFile())
        val started = ProcessBuilder(
            binary, "--db", db, "serve", "--listen", "127.0.0.1:0", "--tls-self-signed", tlsDir,
            "--trust-anchors", testAnchorsDirectory(),
        ).redirectError(log).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
        process = started
        val pattern = Regex("listening on (https://\\S+)")
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60) // a loaded CI machine; ends as soon as it listens
        while (System.nanoTime() < deadline) {
            pattern.find(log.readText())?.let { url = it.groupValues[1]; return url }
            check(started.isAlive) { "the receiver exited: ${log.readText()}" }
            Thread.sleep(50)
        }
        error("the receiver did not start: ${log.readText()}")
    }

    fun stop() {
        process?.let { it.destroy(); it.waitFor(10, TimeUnit.SECONDS) }
        process = null
    }

    /** The sender's feed entries, each as the JSON bytes a sender's tool would verify. */
    fun feed(token: String): List<ByteArray> {
        val request = HttpRequest.newBuilder(URI.create("$url/v1/feed"))
            .header("Authorization", "Bearer $token").GET().build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "feed: HTTP ${response.statusCode()} ${response.body()}" }
        val entries = JSONObject(response.body()).getJSONArray("entries")
        return (0 until entries.length()).map { entries.getJSONObject(it).toString().toByteArray() }
    }

    /** Registers the sender's items (`PUT /v1/items`, a JSON array of items); the status. */
    fun registerItems(token: String, items: String): Int {
        val request = HttpRequest.newBuilder(URI.create("$url/v1/items"))
            .header("Authorization", "Bearer $token").header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString("{\"items\": $items}")).build()
        return http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode()
    }

    override fun close() = stop()
}

object Records {
    /** The receiver at `url`, trusted by its TLS key's pin, as the app configures it. */
    fun config(url: String, pin: String, batchSize: UInt = 100u, maxAttempts: UInt = 3u, appVersion: String? = null) = ReceiverConfig(
        baseUrl = url, deviceId = Fixtures.request().deviceId, receiverPin = pin,
        batchSize = batchSize, maxAttempts = maxAttempts, timeoutSeconds = 10u, appVersion = appVersion,
    )

    fun open(dir: Path, keys: KeyProvider = TestKeyProvider(), signer: DeviceSigner = JavaSecuritySigner()) =
        RecordStore.open(dir.resolve("records.db").toString(), keys, signer, WallClock)

    /** A genuine level B check for `item`, through the Kotlin transport over the software card. */
    fun checkB(item: String = "JP-ITEM-0001"): DoorCheckReport {
        val card = Fixtures.card()
        val request = Fixtures.request().copy(itemId = item)
        return Fixtures.verifier.checkLevelB(ForwardingTransport(card), request, card.secrets().authPin)
    }

    fun tempDir(): Path = Files.createTempDirectory("honnin-records")
}
