package jp.honnin.app

import jp.honnin.app.sync.PeriodicJobSpec
import jp.honnin.app.sync.PeriodicSync
import jp.honnin.app.ui.TrustStatusText
import jp.honnin.core.RevocationListInfo
import jp.honnin.core.TrustBundleInfo
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.time.ZoneId
import javax.xml.parsers.DocumentBuilderFactory

/**
 * What the item screen says about the trust bundle before a check (serial, age, its lists'
 * freshness, the warning once it or a list is out of date), rendered with the app's English and
 * Japanese strings; and the periodic refresh that keeps the bundle from going stale.
 */
class TrustStatusTest {
    private val zone = ZoneId.of("Asia/Tokyo")
    private val now = 1_796_000_000L // 2026-11-30 09:53 JST

    private fun strings(dir: String): Map<Int, String> {
        val file = File(System.getProperty("honnin.app.res"), "$dir/strings.xml")
        val nodes = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file).getElementsByTagName("string")
        val byName = (0 until nodes.length).associate { i ->
            nodes.item(i).attributes.getNamedItem("name").nodeValue to nodes.item(i).textContent.replace("\\'", "'")
        }
        return R.string::class.java.fields.filter { it.type == Int::class.javaPrimitiveType }.associate { it.getInt(null) to byName.getValue(it.name) }
    }

    private val english = strings("values")
    private val japanese = strings("values-ja")

    private fun render(state: TrustState, language: Map<Int, String>, at: Long = now): String =
        TrustStatusText.lines(state, at, zone).joinToString("\n") { language.getValue(it.id).format(*it.args.toTypedArray()) }

    private fun list(nextUpdate: Long?, stale: Boolean) = RevocationListInfo(
        description = "list of JPKI user authentication CA", thisUpdate = now - 86_400, nextUpdate = nextUpdate, stale = stale,
    )

    private fun bundle(ageHours: Long, expiresAt: Long, lists: List<RevocationListInfo>) = TrustState.Bundle(
        TrustBundleInfo(
            serial = 7uL, issuedAt = now - ageHours * 3600, expiresAt = expiresAt, ageHours = ageHours,
            expired = expiresAt <= now, current = expiresAt > now && lists.none { it.stale }, anchors = 2u,
            revocationLists = lists, summary = "",
        ),
    )

    @Test
    fun `a current bundle shows its serial, age, validity and lists, in English and Japanese`() {
        val state = bundle(ageHours = 3, expiresAt = now + 33 * 3600, lists = listOf(list(now + 20 * 3600, false), list(now + 30 * 3600, false)))
        assertEquals(
            "Trust bundle 7: 3 h old, valid until 2026-12-01 18:53\nRevocation lists: 2, current until 2026-12-01 05:53",
            render(state, english),
        )
        assertEquals("トラストバンドル 7：3 時間前、2026-12-01 18:53 まで有効\n失効リスト：2 件、2026-12-01 05:53 まで最新", render(state, japanese))
    }

    @Test
    fun `an expired bundle, a stale list and one about to expire are warned about`() {
        val expired = render(bundle(ageHours = 40, expiresAt = now - 4 * 3600, lists = listOf(list(now - 3600, true))), english)
        assertTrue(expired.contains("Revocation lists out of date: 1 of 1"), expired)
        assertTrue(expired.endsWith("The trust bundle has expired: every check fails its revocation check until the device syncs. Connect to a network."), expired)
        val staleList = render(bundle(ageHours = 20, expiresAt = now + 16 * 3600, lists = listOf(list(now + 3600, false), list(now - 60, true))), english)
        assertTrue(staleList.contains("1 of 2 past their next update") && staleList.contains("Out of date: checks fail"), staleList)
        val soon = render(bundle(ageHours = 31, expiresAt = now + 5 * 3600, lists = listOf(list(now + 5 * 3600, false))), english)
        assertTrue(soon.endsWith("The trust bundle expires in 5 h: sync soon."), soon)
        assertTrue(render(bundle(ageHours = 31, expiresAt = now + 5 * 3600, lists = listOf(list(now + 5 * 3600, false))), japanese).endsWith("あと 5 時間で期限切れになります。早めに同期してください。"))
        // A list without a next update is never current.
        assertTrue(render(bundle(1, now + 35 * 3600, listOf(list(null, true))), english).contains("out of date"))
        // No lists in the bundle: revocation is not checked, and it says so.
        assertTrue(render(bundle(1, now + 35 * 3600, emptyList()), english).contains("holds no revocation lists"))
    }

    @Test
    fun `without a usable bundle the screen says revocation is not checked on the device`() {
        assertTrue(render(TrustState.Shipped, english).startsWith("Revocation: not checked on this device yet"))
        assertTrue(render(TrustState.BundleUnusable("TrustBundleInvalid: edited"), english).contains("cannot be used"))
        assertTrue(render(TrustState.Shipped, japanese).startsWith("失効確認"))
        assertFalse(render(TrustState.BundleUnusable("TrustBundleInvalid: edited"), japanese).contains("edited"), "no internal detail on screen")
    }

    @Test
    fun `the periodic refresh runs every 4 hours on any network and is not rescheduled when already held`() {
        // What is asked of JobScheduler (JobInfo itself needs the device's native code).
        val wanted = PeriodicSync.WANTED
        assertEquals(PeriodicJobSpec(intervalMillis = 4 * 3_600_000L, flexMillis = 3_600_000L, needsNetwork = true, persisted = true), wanted)
        // A bundle lives 36 h: several refreshes can be missed before it goes stale.
        assertTrue(36 * 3_600_000L / wanted.intervalMillis >= 8)

        assertTrue(PeriodicSync.needsScheduling(null), "scheduled when none (or a one-off) is held")
        assertFalse(PeriodicSync.needsScheduling(wanted.copy()), "one held as wanted keeps its period running")
        assertTrue(PeriodicSync.needsScheduling(wanted.copy(intervalMillis = 24 * 3_600_000L)), "an older app's period is replaced")
        assertTrue(PeriodicSync.needsScheduling(wanted.copy(needsNetwork = false)))
        assertTrue(PeriodicSync.needsScheduling(wanted.copy(persisted = false)))
    }
}
