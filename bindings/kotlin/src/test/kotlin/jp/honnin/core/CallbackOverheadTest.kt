package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import java.lang.management.ManagementFactory

/**
 * Measures what one APDU costs in crossing the bridge: Rust calling the Kotlin transport and
 * getting the answer back. Prints figures, wall time and this thread's CPU time (the machine is
 * shared, so CPU time is the steadier one); asserts nothing about time.
 */
class CallbackOverheadTest {
    /** Answers at once: what is left is the callback itself. */
    private class ConstantTransport(size: Int) : CardTransport {
        private val answer = ByteArray(size).also { it[size - 2] = 0x90.toByte() }
        override fun capabilities() = TransportCapabilities(extendedLength = true, maxResponseLen = 65_538u)
        override fun transmit(command: ByteArray): ByteArray = answer
        override fun reconnect() {}
    }

    private val threads = ManagementFactory.getThreadMXBean()
    private val readBinary = byteArrayOf(0x00, 0xB0.toByte(), 0x00, 0x00, 0x00)
    private val selectJpki = byteArrayOf(
        0x00, 0xA4.toByte(), 0x04, 0x0C, 0x0A,
        0xD3.toByte(), 0x92.toByte(), 0xF0.toByte(), 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
    )

    /** Runs `block` (which does `count` operations) once to warm up, then measures it. */
    private fun measure(what: String, count: Int, block: () -> Unit): String {
        block()
        val wall = System.nanoTime()
        val cpu = threads.currentThreadCpuTime
        block()
        val cpuNs = (threads.currentThreadCpuTime - cpu).toDouble() / count
        val wallNs = (System.nanoTime() - wall).toDouble() / count
        return "%-72s %8.1f µs CPU %8.1f µs wall".format(what, cpuNs / 1000, wallNs / 1000)
    }

    @Test
    fun `callback APDU round trip overhead`() {
        val n = 10_000
        val lines = mutableListOf<String>()
        val token = CancellationToken()
        lines += measure("Kotlin→Rust call, no callback (CancellationToken.isCancelled)", n) {
            repeat(n) { token.isCancelled() }
        }
        for (size in listOf(2, 258)) {
            val transport = ConstantTransport(size)
            lines += measure("Rust→Kotlin transmit callback, $size-byte answer (loop in Rust)", n) {
                val timing = measureTransmitRoundTrips(transport, readBinary, n.toUInt())
                assertEquals(n.toULong() * size.toULong(), timing.responseBytes)
            }
            lines += measure("Kotlin→Rust→Kotlin, one call with one callback, $size-byte answer", n) {
                repeat(n) { measureTransmitRoundTrips(transport, readBinary, 1u) }
            }
        }
        val forwarding = ForwardingTransport(Fixtures.card())
        lines += measure("Rust→Kotlin→Rust: SELECT forwarded by Kotlin to the software card", n) {
            measureTransmitRoundTrips(forwarding, selectJpki, n.toUInt())
        }

        for (level in listOf(Level.A, Level.B, Level.C)) {
            val card = Fixtures.card()
            val secrets = card.secrets()
            val transport = ForwardingTransport(card)
            val start = System.nanoTime()
            val report = when (level) {
                Level.A -> Fixtures.verifier.checkLevelA(transport, Fixtures.request(), secrets.matchingNumberB)
                    .confirm(FaceDecision.CONFIRMED)
                Level.B -> Fixtures.verifier.checkLevelB(transport, Fixtures.request(), secrets.authPin)
                Level.C -> Fixtures.verifier.checkLevelC(transport, Fixtures.request(), secrets.signPassword)
                // The loop runs the card levels only; a phone (M) has no card to forward to.
                Level.M -> throw AssertionError("level M is a phone check, not a card level")
            }
            assertEquals(Verdict.GENUINE, report.verdict())
            val c = report.counters()
            lines += "door check level $level: ${c.apdus} APDUs (callback round trips), ${c.bytesSent + c.bytesReceived} bytes, %.1f ms wall in all"
                .format((System.nanoTime() - start) / 1e6)
        }

        println("callback overhead per operation (${System.getProperty("java.vm.name")} ${System.getProperty("java.version")}):")
        lines.forEach { println("  $it") }
    }
}
