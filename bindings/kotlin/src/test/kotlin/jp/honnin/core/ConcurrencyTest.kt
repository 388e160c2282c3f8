package jp.honnin.core

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import java.util.concurrent.Callable
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/** Several Kotlin threads calling into the core at once, sharing one verifier. */
class ConcurrencyTest {
    @Test
    fun `door checks from several threads at once are independent and correct`() {
        val threads = 4
        val pool = Executors.newFixedThreadPool(threads)
        try {
            val jobs = (0 until 12).map { i ->
                Callable {
                    val profile = if (i % 3 == 2) "forged-ca" else "genuine"
                    val card = Fixtures.card(profile)
                    val transport = ForwardingTransport(card)
                    val verdict = when (i % 4) {
                        0 -> Fixtures.verifier.checkLevelA(transport, Fixtures.request(), card.secrets().matchingNumberB)
                            .confirm(FaceDecision.CONFIRMED).verdict()
                        1 -> Fixtures.verifier.checkLevelB(transport, Fixtures.request(), card.secrets().authPin).verdict()
                        2 -> Fixtures.verifierWithCrl.checkLevelC(transport, Fixtures.request(), card.secrets().signPassword).verdict()
                        // Reading decides nothing: it must just work alongside the checks.
                        else -> readCard(transport).token.let { null }
                    }
                    profile to verdict
                }
            }
            val results = pool.invokeAll(jobs).map { it.get(120, TimeUnit.SECONDS) }
            for ((profile, verdict) in results.filter { it.second != null }) {
                assertEquals(if (profile == "genuine") Verdict.GENUINE else Verdict.FORGED, verdict, profile)
            }
            assertEquals(12, results.size)
        } finally {
            pool.shutdownNow()
        }
    }
}
