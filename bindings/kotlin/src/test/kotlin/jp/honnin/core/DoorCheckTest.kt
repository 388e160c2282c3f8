package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Full door checks through the generated bindings, with a Kotlin transport over the software card. */
class DoorCheckTest {
    private fun assertAllPassed(report: DoorCheckReport) {
        for (check in report.checks()) {
            assertEquals(CheckState.PASSED, check.state, "$check")
        }
    }

    @Test
    fun `level A on a genuine card, confirmed by the courier, is genuine`() {
        val card = Fixtures.card()
        val transport = ForwardingTransport(card)
        val listener = RecordingListener()
        val pending = Fixtures.verifier.checkLevelA(
            transport, Fixtures.request(), card.secrets().matchingNumberB, listener,
        )
        assertEquals(Verdict.GENUINE, pending.cardVerdict())
        val images = pending.images()
        val face = images.face!!
        assertTrue(face.width > 0u && face.height > 0u)
        assertEquals(face.width.toInt() * face.height.toInt() * 4, face.rgba.size)
        assertNotNull(images.name)
        assertNotNull(images.address)

        val report = pending.confirm(FaceDecision.CONFIRMED)
        assertEquals(Level.A, report.level())
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        assertAllPassed(report)
        assertEquals(report.checks().size, report.checks().map { it.check }.toSet().size)
        assertTrue(report.counters().apdus > 0u)
        assertEquals(transport.transmits.get().toUInt(), report.counters().apdus)
        assertTrue(listener.events.any { it is ProgressEvent.Reading })
        // No PIN of the holder was touched.
        assertEquals(3u, card.triesLeft(TestPin.AUTH))
        assertEquals(3u, card.triesLeft(TestPin.MATCHING_NUMBER_B))

        val attributes = report.verifiedAttributes()!!
        assertEquals("card_face", attributes.source())
        assertEquals(Date(1990u, 4u, 1u), attributes.birthDate())
        assertEquals(Sex.FEMALE, attributes.sex())
        assertFalse(attributes.toString().contains("1990"), attributes.toString())
        assertEquals("DoorCheckReport(level A, genuine, 9 checks)", report.toString())
    }

    @Test
    fun `level A without or against the courier is not genuine, and confirms once`() {
        val card = Fixtures.card()
        val pending = Fixtures.verifier.checkLevelA(
            ForwardingTransport(card), Fixtures.request(), card.secrets().matchingNumberB,
        )
        val report = pending.confirm(FaceDecision.REJECTED)
        assertEquals(Verdict.NOT_ADDRESSEE, report.verdict())
        assertEquals("rejected_by_courier", report.check(CheckId.FACE_CONFIRMATION)!!.reasonCode)
        assertThrows<HonninException.AlreadyUsed> { pending.confirm(FaceDecision.CONFIRMED) }
        assertThrows<HonninException.AlreadyUsed> { pending.images() }

        val again = Fixtures.verifier.checkLevelA(
            ForwardingTransport(card), Fixtures.request(), card.secrets().matchingNumberB,
        ).confirm(FaceDecision.NOT_GIVEN)
        assertEquals(Verdict.INCONCLUSIVE, again.verdict())
        assertEquals(CheckState.NOT_CHECKED, again.check(CheckId.FACE_CONFIRMATION)!!.state)
    }

    @Test
    fun `level B on a genuine card is genuine, with the verified attributes`() {
        val card = Fixtures.card()
        val transport = ForwardingTransport(card)
        val report = Fixtures.verifier.checkLevelB(transport, Fixtures.request(), card.secrets().authPin)
        assertEquals(Level.B, report.level())
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        val revocation = report.check(CheckId.REVOCATION)!!
        assertEquals(CheckState.NOT_CHECKED, revocation.state)
        assertEquals("no_revocation_list", revocation.reasonCode)
        assertEquals("この端末では失効確認を行っていません（受信側で確認）", revocation.messageJa)
        assertNull(report.firstFailure())
        val attributes = report.verifiedAttributes()!!
        assertEquals("試験\u3000花子", attributes.name())
        assertEquals("input_support", attributes.source())
        assertEquals(3u, card.triesLeft(TestPin.AUTH))
    }

    @Test
    fun `level C on a genuine card is genuine`() {
        val card = Fixtures.card()
        val report = Fixtures.verifierWithCrl.checkLevelC(
            ForwardingTransport(card), Fixtures.request(), card.secrets().signPassword,
        )
        assertEquals(Level.C, report.level())
        assertEquals(Verdict.GENUINE, report.verdict(), report.checks().toString())
        assertAllPassed(report)
        assertEquals("signing_certificate", report.verifiedAttributes()!!.source())
    }

    @Test
    fun `a forged card gives the forged verdict at every level`() {
        val secrets = Fixtures.card("forged-ca").secrets()
        val a = Fixtures.verifier.checkLevelA(
            ForwardingTransport(Fixtures.card("forged-ca")), Fixtures.request(), secrets.matchingNumberB,
        )
        assertEquals(Verdict.FORGED, a.cardVerdict())
        val reportA = a.confirm(FaceDecision.CONFIRMED)
        assertEquals(Verdict.FORGED, reportA.verdict())
        assertEquals(CheckId.CARD_FACE_CV_CERTIFICATE, reportA.firstFailure()!!.check)

        val card = Fixtures.card("forged-ca")
        val transport = ForwardingTransport(card)
        val reportB = Fixtures.verifier.checkLevelB(transport, Fixtures.request(), secrets.authPin)
        assertEquals(Verdict.FORGED, reportB.verdict())
        val failure = reportB.firstFailure()!!
        assertEquals(CheckId.CERTIFICATE_CHAIN, failure.check)
        assertEquals(CheckState.FAILED, failure.state)
        assertEquals("FORGED card: do not hand over the item.", reportB.verdictMessageEn())
        // Caught before any PIN try was spent.
        assertFalse(transport.sentASecret())
        assertEquals(3u, card.triesLeft(TestPin.AUTH))
    }

    @Test
    fun `a cloned chip is forged at level B by its challenge signature`() {
        val card = Fixtures.card("clone")
        val report = Fixtures.verifier.checkLevelB(ForwardingTransport(card), Fixtures.request(), card.secrets().authPin)
        assertEquals(Verdict.FORGED, report.verdict())
        assertEquals(CheckId.CHALLENGE_SIGNATURE, report.firstFailure()!!.check)
        assertEquals("signature_invalid", report.firstFailure()!!.reasonCode)
    }

    @Test
    fun `a revoked certificate is caught with the operator's CRL`() {
        val card = Fixtures.card("revoked")
        val report = Fixtures.verifierWithCrl.checkLevelB(ForwardingTransport(card), Fixtures.request(), card.secrets().authPin)
        assertEquals(Verdict.INCONCLUSIVE, report.verdict())
        assertEquals("revoked", report.check(CheckId.REVOCATION)!!.reasonCode)
        assertEquals(3u, card.triesLeft(TestPin.AUTH))
    }

    @Test
    fun `the PIN guard refuses at one try left, and a wrong PIN reports the tries left`() {
        val guarded = Fixtures.card("pin-one-try-left")
        val transport = ForwardingTransport(guarded)
        val refused = Fixtures.verifier.checkLevelB(transport, Fixtures.request(), guarded.secrets().authPin)
        assertEquals(Verdict.REFUSED, refused.verdict())
        val pinState = refused.check(CheckId.PIN_STATE)!!
        assertEquals("pin_guard_refused", pinState.reasonCode)
        assertEquals("1 try left", pinState.detail)
        assertFalse(transport.sentASecret())
        assertEquals(1u, guarded.triesLeft(TestPin.AUTH))

        val card = Fixtures.card()
        val wrong = Fixtures.verifier.checkLevelB(ForwardingTransport(card), Fixtures.request(), "0000")
        assertEquals(Verdict.REFUSED, wrong.verdict())
        assertEquals("wrong_pin", wrong.check(CheckId.PIN_STATE)!!.reasonCode)
        assertEquals("2 tries left", wrong.check(CheckId.PIN_STATE)!!.detail)
        assertEquals(2u, card.triesLeft(TestPin.AUTH))
    }

    @Test
    fun `a malformed secret or date is a typed exception that does not echo it`() {
        val card = Fixtures.card()
        val error = assertThrows<HonninException.InvalidSecret> {
            Fixtures.verifier.checkLevelB(ForwardingTransport(card), Fixtures.request(), "12x4")
        }
        assertFalse(error.message!!.contains("12x4"))
        assertThrows<HonninException.InvalidSecret> {
            Fixtures.verifier.checkLevelC(ForwardingTransport(card), Fixtures.request(), "short")
        }
        val badDate = Fixtures.addressee.copy(birthDate = Date(1990u, 2u, 30u))
        assertThrows<HonninException.InvalidArgument> {
            Fixtures.verifier.checkLevelB(ForwardingTransport(card), Fixtures.request(badDate), "2468")
        }
        assertEquals(0, card.exchanges().toInt())
    }

    @Test
    fun `trust anchors load from DER bytes as from a directory`() {
        // As an app would hold them in its assets: DER as is, PEM decoded on the Kotlin side.
        val ders = java.io.File(testAnchorsDirectory()).listFiles()!!.sortedBy { it.name }.map { file ->
            if (file.name.endsWith(".pem")) pemToDer(file.readText()) else file.readBytes()
        }
        assertEquals(2, ders.size)
        val fromDer = TrustAnchors.fromDer(ders)
        assertEquals(Fixtures.anchors.anchors().map { it.keyId }.toSet(), fromDer.anchors().map { it.keyId }.toSet())
        assertTrue(fromDer.anchors().all { it.source.startsWith("der[") })

        val card = Fixtures.card()
        val report = Verifier(fromDer, TestClock).checkLevelB(ForwardingTransport(card), Fixtures.request(), card.secrets().authPin)
        assertEquals(Verdict.GENUINE, report.verdict())

        assertThrows<HonninException.TrustAnchors> { TrustAnchors.fromDer(listOf(byteArrayOf(0x30, 0x03, 0x02, 0x01, 0x00))) }
        assertThrows<HonninException.TrustAnchors> { TrustAnchors.fromDer(emptyList()) }
        assertThrows<HonninException.TrustAnchors> { TrustAnchors.fromDirectory("/nonexistent/anchors") }
        assertThrows<HonninException.RevocationList> { Verifier(fromDer, TestClock, listOf(byteArrayOf(1, 2, 3))) }
    }

    @Test
    fun `reading the card shows its PIN counters without spending a try`() {
        val card = Fixtures.card("pin-one-try-left")
        val transport = ForwardingTransport(card)
        val readout = readCard(transport)
        assertEquals("JPKIAPICCTOKEN", readout.token)
        assertEquals(PinStatus.TriesLeft(1u), readout.authenticationPin)
        assertEquals(PinStatus.TriesLeft(3u), readout.matchingNumberB)
        assertTrue(readout.authenticationCertificate.size > 500)
        assertTrue(readout.extendedLength)
        assertFalse(transport.sentASecret())
        assertEquals(transport.transmits.get().toUInt(), readout.counters.apdus)
    }

    private fun pemToDer(pem: String): ByteArray =
        java.util.Base64.getMimeDecoder().decode(
            pem.substringAfter("-----BEGIN CERTIFICATE-----").substringBefore("-----END CERTIFICATE-----"),
        )
}
