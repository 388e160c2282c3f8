package jp.honnin.app

import jp.honnin.app.keys.DeviceKey
import jp.honnin.app.keys.DeviceKeySigner
import jp.honnin.app.keys.WrappedKeyFile
import jp.honnin.app.keys.WrappedStoreKeyProvider
import jp.honnin.app.records.EnrolmentMemory
import jp.honnin.app.records.ReceiverLink
import jp.honnin.core.Clock
import jp.honnin.core.testAnchorsDirectory
import org.json.JSONObject
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.Signature
import java.security.cert.CertificateFactory
import java.security.spec.ECGenParameterSpec
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory

/** The machine's clock: sync requests carry the time and the receiver checks it against its own. */
object WallClock : Clock {
    override fun nowUnixSeconds(): Long = System.currentTimeMillis() / 1000
}

/**
 * The device key as [jp.honnin.app.keys.KeystoreDeviceKey] uses it (EC P-256,
 * `SHA256withECDSA`, DER), with a java.security key in place of the Keystore's.
 */
class JceDeviceKey(
    /** Thrown from [sign] instead of signing, as the Keystore throws it. */
    var failWith: Exception? = null,
) : DeviceKey {
    private val pair = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()
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

/** SharedPreferences' part in enrolment, in memory. */
class MemoryEnrolments : EnrolmentMemory {
    @Volatile
    var link: ReceiverLink? = null

    override fun receiverLink(): ReceiverLink? = link

    @Volatile
    var revoked: String? = null

    override fun remember(link: ReceiverLink) {
        this.link = link
        revoked = null
    }

    override fun keepSyncTrust(receiverKey: ByteArray?, tlsPins: jp.honnin.core.AnnouncedTlsPins?) {
        if (receiverKey == null && tlsPins == null) return
        link = checkNotNull(link) { "sync trust kept before enrolment" }.let {
            ReceiverLink(it.baseUrl, receiverKey ?: it.receiverKey, it.tlsPin, tlsPins ?: it.announcedPins)
        }
    }

    override fun revocation(): String? = revoked

    override fun rememberRevocation(detail: String) {
        revoked = detail
    }
}

/**
 * The app's [CoreRecords] as [HonninApp] wires it, over a real SQLite store in [dir]: the store
 * key in a [WrappedKeyFile] (AES-GCM in the JVM for the Keystore's), the device key a
 * [JceDeviceKey] behind the app's [DeviceKeySigner].
 */
class RealRecords(val dir: File, attemptsPerSync: UInt = 2u, appVersion: String? = null) {
    val storeFile = File(dir, "records.db")
    val keyFile = File(dir, "store-key.wrapped")
    val wrapper = JceKeyWrapper()
    val deviceKey = JceDeviceKey()
    val keyProvider = WrappedStoreKeyProvider(WrappedKeyFile(keyFile, wrapper), storeFile)
    val enrolments = MemoryEnrolments()
    val core = CoreRecords(
        storeFile = storeFile,
        storeKey = keyProvider,
        signer = DeviceKeySigner(deviceKey),
        deviceId = Fixtures.DEVICE_ID,
        courierId = { "courier-7" },
        enrolments = enrolments,
        clock = WallClock,
        attemptsPerSync = attemptsPerSync,
        appVersion = appVersion,
    )
}

/**
 * The real `honnin-receiver` binary as a child process on loopback (port chosen by the system),
 * serving HTTPS with its self-signed certificate, its database in [dir]; started as
 * scripts/demo starts it. scripts/test-android builds it and passes its path.
 */
class ReceiverProcess(private val dir: File) : AutoCloseable {
    private val binary: String = System.getProperty("honnin.receiver.bin")
        ?: error("-Dhonnin.receiver.bin is not set: run the tests through scripts/test-android")
    private val db = File(dir, "receiver.db").path
    private val tlsDir = File(dir, "tls").path
    private var process: Process? = null

    var url: String = ""
        private set

    private fun operator(vararg args: String): String {
        val process = ProcessBuilder(listOf(binary, "--db", db) + args).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val out = process.inputStream.bufferedReader().readText()
        check(process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0) { "honnin-receiver ${args.toList()} failed" }
        return out.trim()
    }

    /** Registers a sender; its API token for the feed. */
    fun addSender(sender: String): String = operator("add-sender", "--sender", sender)

    /**
     * A one-time enrolment code for [device], enrolled for [senders]: their feeds get its records
     * also for items they did not register (the tests' records are for "test-bank").
     */
    fun enrolmentCode(device: String, vararg senders: String = arrayOf("test-bank")): String =
        operator("enrol-code", "--device", device, *senders.flatMap { listOf("--sender", it) }.toTypedArray())

    /** `honnin-receiver rotate-receipt-key`: the old receipt key signs the new one for devices. */
    fun rotateReceiptKey(): String = operator("rotate-receipt-key")

    /** `honnin-receiver trust-load` of the test anchors and the test CRLs (which revoke the `revoked` card). */
    fun trustLoad(): String {
        val crls = jp.honnin.core.testRevocationLists().mapIndexed { i, der ->
            File(dir, "list-$i.crl.der").apply { writeBytes(der) }.path
        }
        return operator("trust-load", "--anchors", testAnchorsDirectory(), *crls.flatMap { listOf("--crl", it) }.toTypedArray())
    }

    /** `honnin-receiver devices revoke`: the device was lost. */
    fun revokeDevice(device: String, reason: String): String = operator("devices", "revoke", "--device", device, "--reason", reason)

    /** `honnin-receiver devices list --json`: what the operator sees of each device. */
    fun devices(): org.json.JSONArray = org.json.JSONArray(operator("devices", "list", "--json"))

    /** A new self-signed TLS identity made by the receiver in [target], as the operator would; its pin. */
    fun makeTlsIdentity(target: File): String = operator("tls-pin", "--tls-self-signed", target.path)

    /** `honnin-receiver announce-tls-key --cert`: pinned devices learn [cert]'s key at their next sync. */
    fun announceTlsKey(cert: File): String = operator("announce-tls-key", "--cert", cert.path)

    /** The operator installs the certificate and key of [source] in place of those served. */
    fun installTlsIdentity(source: File) {
        for (name in listOf("key.pem", "cert.pem")) File(source, name).copyTo(File(tlsDir, name), overwrite = true)
    }

    /** The pin of the receiver's TLS key, as the operator hands it out with the code. */
    val pin: String by lazy { operator("tls-pin", "--tls-self-signed", tlsDir) }

    fun start(): String {
        pin // the key is made before serving, as the operator does
        val log = File.createTempFile("receiver", ".log", dir)
        val started = ProcessBuilder(
            binary, "--db", db, "serve", "--listen", "127.0.0.1:0", "--tls-self-signed", tlsDir,
            "--trust-anchors", testAnchorsDirectory(),
        ).redirectError(log).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
        process = started
        val listening = Regex("listening on (https://\\S+)")
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60) // a loaded CI machine; ends as soon as it listens
        while (System.nanoTime() < deadline) {
            listening.find(log.readText())?.let { url = it.groupValues[1]; return url }
            check(started.isAlive) { "the receiver exited: ${log.readText()}" }
            Thread.sleep(50)
        }
        error("the receiver did not start: ${log.readText()}")
    }

    /** The next start serves a new self-signed key (the pin handed out earlier no longer fits). */
    fun replaceTlsKey() {
        check(process == null) { "stop the receiver first" }
        File(tlsDir).deleteRecursively()
    }

    fun stop() {
        process?.let { it.destroy(); it.waitFor(10, TimeUnit.SECONDS) }
        process = null
    }

    /** The sender's side trusts exactly the receiver's self-signed certificate. */
    private val http: HttpClient by lazy {
        val certificate = File(tlsDir, "cert.pem").inputStream().use { CertificateFactory.getInstance("X.509").generateCertificate(it) }
        val store = KeyStore.getInstance(KeyStore.getDefaultType()).apply { load(null); setCertificateEntry("receiver", certificate) }
        val trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(store) }
        HttpClient.newBuilder().sslContext(SSLContext.getInstance("TLS").apply { init(null, trust.trustManagers, null) }).build()
    }

    /** Registers the sender's items (`PUT /v1/items`, a JSON array); the HTTP status. */
    fun registerItems(token: String, items: String): Int {
        val request = HttpRequest.newBuilder(URI.create("$url/v1/items"))
            .header("Authorization", "Bearer $token").header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString("{\"items\": $items}")).build()
        return http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode()
    }

    /** The sender's feed entries, each as the JSON bytes a sender's tool verifies. */
    fun feed(token: String): List<ByteArray> {
        val request = HttpRequest.newBuilder(URI.create("$url/v1/feed")).header("Authorization", "Bearer $token").GET().build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "feed: HTTP ${response.statusCode()} ${response.body()}" }
        val entries = JSONObject(response.body()).getJSONArray("entries")
        return (0 until entries.length()).map { entries.getJSONObject(it).toString().toByteArray() }
    }

    override fun close() = stop()
}
