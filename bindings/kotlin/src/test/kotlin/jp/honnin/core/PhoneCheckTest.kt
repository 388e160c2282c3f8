package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.util.Base64
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger
import org.json.JSONObject

/**
 * A phone's transport written in Kotlin, as the app's IsoDep transport is: every APDU goes
 * Rust → Kotlin → (here) the software phone.
 */
class ForwardingPhone(val phone: SoftwarePhoneTransport) : CardTransport {
    val transmits = AtomicInteger()
    val commands: MutableList<ByteArray> = Collections.synchronizedList(mutableListOf())

    override fun capabilities(): TransportCapabilities = phone.capabilities()

    override fun transmit(command: ByteArray): ByteArray {
        transmits.incrementAndGet()
        commands.add(command.copyOf())
        return phone.transmit(command)
    }

    override fun reconnect() = phone.reconnect()
}

/** The phone check (level M) through the generated bindings, over the software phone. */
class PhoneCheckTest {
    private val phoneVerifier: PhoneVerifier by lazy {
        PhoneVerifier(PhoneIssuerAnchors.fromDirectory(testPhoneAnchorsDirectory()), TestClock)
    }

    private fun phone(profile: String = "mdoc-genuine") = ForwardingPhone(SoftwarePhoneTransport(profile))

    /** Whether base64 text anywhere in [text] encodes bytes 100–400 of [bytes], at any alignment. */
    private fun holdsBytes(text: String, bytes: ByteArray): Boolean = (0..2).any { k ->
        val encoded = Base64.getEncoder().encodeToString(bytes.copyOfRange(100 + k, 400 + k))
        text.contains(encoded.substring(4, encoded.length - 4))
    }

    private fun failedReasons(report: DoorCheckReport): List<String> =
        report.checks().filter { it.state == CheckState.FAILED }.map { "${it.check}:${it.reasonCode}" }

    @Test
    fun `a genuine phone, its portrait confirmed by the courier, is genuine and becomes a record`() {
        val transport = phone()
        val pending = phoneVerifier.checkPhone(transport, Fixtures.request(), RecordAttributes(name = true))
        assertEquals(Verdict.GENUINE, pending.cardVerdict())
        val portrait = pending.portrait()!!
        // The software phone sends the test holder's JPEG 2000 face; the core decodes it for the app.
        assertEquals(PortraitFormat.JPEG2000, portrait.format)
        val decoded = portrait.decoded!!
        assertEquals(decoded.width.toInt() * decoded.height.toInt() * 4, decoded.rgba.size)

        val report = pending.confirm(FaceDecision.CONFIRMED)
        assertEquals(Level.M, report.level())
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        for (check in report.checks()) assertEquals(CheckState.PASSED, check.state, "$check")
        for (id in listOf(CheckId.MDOC_SESSION, CheckId.MDOC_ISSUER_CERTIFICATE, CheckId.MDOC_ISSUER_SIGNATURE,
            CheckId.MDOC_VALIDITY, CheckId.MDOC_DOC_TYPE, CheckId.MDOC_ELEMENT_DIGESTS,
            CheckId.MDOC_ELEMENTS_COMPLETE, CheckId.MDOC_DEVICE_AUTHENTICATION, CheckId.FACE_CONFIRMATION,
            CheckId.ADDRESSEE_MATCH)) {
            assertEquals(CheckState.PASSED, report.check(id)?.state, "$id in ${report.checks()}")
        }
        assertEquals("mdoc", report.verifiedAttributes()!!.source())
        assertEquals(Date(1990u, 4u, 1u), report.verifiedAttributes()!!.birthDate())
        assertEquals(transport.transmits.get().toUInt(), report.counters().apdus)
        assertEquals("受取人本人の真正なカードです。お渡しください。", report.verdictMessageJa())
        assertThrows<HonninException.AlreadyUsed> { pending.portrait() }
        assertThrows<HonninException.AlreadyUsed> { pending.confirm(FaceDecision.CONFIRMED) }

        // Stored like a card check: signed, chained, with the evidence the sender re-verifies
        // and never the portrait.
        val dir = Records.tempDir()
        val store = Records.open(dir)
        val appended = store.append(report, "courier-7", RecordAttributes(name = true))
        assertEquals(1uL, appended.position)
        with(store.records().single()) {
            assertEquals(Level.M, level)
            assertEquals(Verdict.GENUINE, verdict)
        }
        val envelope = store.recordEnvelope(appended.recordId)
        val body = JSONObject(String(envelope)).getJSONObject("body")
        val mdoc = body.getJSONObject("mdoc")
        assertTrue(mdoc.getString("device_signature").isNotEmpty())
        assertTrue(mdoc.getString("session_transcript").isNotEmpty())
        val elements = mdoc.getJSONArray("elements")
        val kept = (0 until elements.length()).map { elements.getJSONObject(it) }
        assertEquals(listOf(false), kept.filter { it.getString("element") == "portrait" }.map { it.has("item") })
        assertFalse(holdsBytes(String(envelope), portrait.bytes), "the portrait is not in the record")
        // The check itself: the same search finds what the record does keep (the issuer's MSO).
        assertTrue(holdsBytes(String(envelope), Base64.getDecoder().decode(mdoc.getString("issuer_auth"))))
    }

    @Test
    fun `only the elements the addressee and the sender's policy need are asked for`() {
        val bare = Fixtures.request(Addressee(name = "試験\u3000花子"))
        assertEquals(listOf("family_name", "given_name", "portrait"), phoneVerifier.requestedElements(bare))
        assertEquals(
            listOf("family_name", "given_name", "birth_date", "resident_address", "portrait"),
            phoneVerifier.requestedElements(Fixtures.request()),
        )
        assertEquals(
            listOf("family_name", "given_name", "birth_date", "sex", "portrait"),
            phoneVerifier.requestedElements(bare, RecordAttributes(birthDate = true, sex = true)),
        )
        val report = phoneVerifier.checkPhone(phone(), bare).confirm(FaceDecision.CONFIRMED)
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        assertNull(report.verifiedAttributes(), "no birth date was asked, so none is claimed")
    }

    @Test
    fun `the QR engagement reaches the same verdict, and a text that is not one touches nothing`() {
        val transport = phone()
        val qr = PhoneEngagement.Qr(transport.phone.qrText())
        assertTrue(qr.text.startsWith("mdoc:"), qr.text)
        val report = phoneVerifier.checkPhone(transport, Fixtures.request(), engagement = qr).confirm(FaceDecision.CONFIRMED)
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())

        val untouched = phone()
        val error = assertThrows<HonninException.InvalidArgument> {
            phoneVerifier.checkPhone(untouched, Fixtures.request(), engagement = PhoneEngagement.Qr("https://example.jp/parcel"))
        }
        assertTrue(error.detail.contains("QR"), error.detail)
        assertEquals(0, untouched.transmits.get())
    }

    @Test
    fun `forged, cloned, tampered and expired phones are refused with their reasons`() {
        val cases = listOf(
            Triple("mdoc-signature-forged", Verdict.FORGED, "MDOC_ISSUER_SIGNATURE:signature_invalid"),
            Triple("mdoc-clone", Verdict.FORGED, "MDOC_DEVICE_AUTHENTICATION:device_signature_invalid"),
            Triple("mdoc-element-tampered", Verdict.FORGED, "MDOC_ELEMENT_DIGESTS:hash_mismatch"),
            Triple("mdoc-unknown-issuer", Verdict.FORGED, "MDOC_ISSUER_CERTIFICATE:unknown_issuer"),
            Triple("mdoc-expired", Verdict.INCONCLUSIVE, "MDOC_VALIDITY:mso_expired"),
        )
        for ((profile, verdict, reason) in cases) {
            val pending = phoneVerifier.checkPhone(phone(profile), Fixtures.request())
            assertEquals(verdict, pending.cardVerdict(), profile)
            // The courier's "matches" cannot turn a refused phone into a genuine one.
            val report = pending.confirm(FaceDecision.CONFIRMED)
            assertEquals(verdict, report.verdict(), profile)
            assertTrue(reason in failedReasons(report), "$profile: ${failedReasons(report)}")
        }
        // A portrait that did not verify is not offered for comparison.
        assertNull(phoneVerifier.checkPhone(phone("mdoc-element-tampered"), Fixtures.request()).portrait())
        assertEquals(
            "FORGED card: do not hand over the item.",
            phoneVerifier.checkPhone(phone("mdoc-clone"), Fixtures.request()).confirm(FaceDecision.NOT_GIVEN).verdictMessageEn(),
        )
    }

    @Test
    fun `a phone without the courier's look, or against it, is not genuine`() {
        val notGiven = phoneVerifier.checkPhone(phone(), Fixtures.request()).confirm(FaceDecision.NOT_GIVEN)
        assertEquals(Verdict.INCONCLUSIVE, notGiven.verdict())
        val rejected = phoneVerifier.checkPhone(phone(), Fixtures.request()).confirm(FaceDecision.REJECTED)
        assertEquals(Verdict.NOT_ADDRESSEE, rejected.verdict())
        assertEquals("rejected_by_courier", rejected.check(CheckId.FACE_CONFIRMATION)!!.reasonCode)
    }

    @Test
    fun `a phone that stops answering is card_removed, and a failing callback is CallbackFailed`() {
        val gone = phoneVerifier.checkPhone(phone("mdoc-stops-answering"), Fixtures.request())
        assertEquals(Verdict.INCONCLUSIVE, gone.cardVerdict())
        assertNull(gone.portrait())
        val report = gone.confirm(FaceDecision.NOT_GIVEN)
        val communication = report.check(CheckId.CARD_COMMUNICATION)!!
        assertEquals(CheckState.FAILED, communication.state)
        assertEquals("card_removed", communication.reasonCode)
        assertEquals(1u, report.counters().tagLosses)

        val inner = phone()
        val broken = object : CardTransport by inner {
            var calls = 0
            override fun transmit(command: ByteArray): ByteArray {
                if (++calls == 3) throw IllegalStateException("IsoDep is closed")
                return inner.transmit(command)
            }
        }
        val error = assertThrows<HonninException.CallbackFailed> { phoneVerifier.checkPhone(broken, Fixtures.request()) }
        assertEquals("CardTransport.transmit", error.method)

        val token = CancellationToken().apply { cancel() }
        val untouched = phone()
        assertThrows<HonninException.Cancelled> { phoneVerifier.checkPhone(untouched, Fixtures.request(), cancellation = token) }
        assertEquals(0, untouched.transmits.get())
    }

    @Test
    fun `detection tells a phone from a card with SELECT commands only`() {
        val transport = phone()
        assertEquals(CredentialKind.PHONE, detectCredential(transport))
        assertTrue(transport.commands.all { it[1] == 0xA4.toByte() && it[2] == 0x04.toByte() }, "SELECT by AID only")
        assertEquals(2, transport.transmits.get(), "the JPKI application, then the mdoc application")
        // The check runs on the same tag after the detection.
        val report = phoneVerifier.checkPhone(transport, Fixtures.request()).confirm(FaceDecision.CONFIRMED)
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())

        val card = ForwardingTransport(Fixtures.card())
        assertEquals(CredentialKind.MY_NUMBER_CARD, detectCredential(card))
        assertEquals(1, card.transmits.get())
        assertFalse(card.sentASecret())
        val b = Fixtures.verifier.checkLevelB(card, Fixtures.request(), card.card.secrets().authPin)
        assertEquals(Verdict.GENUINE, b.verdict(), b.checks().toString())

        val nothing = object : CardTransport by phone() {
            val seen = mutableListOf<ByteArray>()
            override fun transmit(command: ByteArray): ByteArray = byteArrayOf(0x6A, 0x82.toByte()).also { seen.add(command) }
        }
        assertEquals(CredentialKind.UNKNOWN, detectCredential(nothing))
        assertEquals(4, nothing.seen.size)
        assertArrayEquals(byteArrayOf(0xA0.toByte(), 0, 0, 2, 0x48, 4, 0), nothing.seen[1].copyOfRange(5, 12))

        val lost = object : CardTransport by phone() {
            override fun transmit(command: ByteArray): ByteArray = throw TransportException.TagLost()
        }
        assertThrows<HonninException.TagLost> { detectCredential(lost) }
        val garbage = object : CardTransport by phone() {
            override fun transmit(command: ByteArray): ByteArray = byteArrayOf(0x01)
        }
        assertThrows<HonninException.CardDataMalformed> { detectCredential(garbage) }
    }

    @Test
    fun `phone issuer anchors load like the JPKI anchors and refuse an empty set`() {
        val anchors = PhoneIssuerAnchors.fromDirectory(testPhoneAnchorsDirectory())
        assertTrue(anchors.anchors().isNotEmpty())
        assertTrue(anchors.anchors().all { it.subject.isNotEmpty() && it.source.isNotEmpty() })
        assertThrows<HonninException.TrustAnchors> { PhoneIssuerAnchors.fromDer(emptyList()) }
        assertThrows<HonninException.TrustAnchors> { PhoneIssuerAnchors.fromDer(listOf(byteArrayOf(0x30, 0x03, 1, 2, 3))) }
        assertThrows<HonninException.TrustAnchors> { PhoneIssuerAnchors.fromDirectory("/nonexistent/honnin") }
        // The JPKI anchors (RSA) are not phone issuers: a JPKI root must never end a phone's path.
        assertThrows<HonninException.TrustAnchors> { PhoneIssuerAnchors.fromDirectory(testAnchorsDirectory()) }
    }
}
