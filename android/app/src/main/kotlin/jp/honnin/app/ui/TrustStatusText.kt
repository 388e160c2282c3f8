package jp.honnin.app.ui

import jp.honnin.app.R
import jp.honnin.app.TrustState
import jp.honnin.core.TrustBundleInfo
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter

/** One line of text: a string resource and its format arguments. */
data class TextLine(val id: Int, val args: List<Any> = emptyList())

/**
 * What the item screen tells the courier about the trust the door check will use, before any
 * check: the trust bundle's serial, age and validity, whether its revocation lists are current,
 * and a warning once it or a list is out of date (every check then fails its revocation check,
 * rather than use old lists as current) or is about to be. Without a usable bundle it says
 * that revocation is not checked on the device. Plain Kotlin, so the mapping is tested on the
 * JVM; [MainActivity] only looks the strings up.
 */
object TrustStatusText {
    /** A bundle that expires within this is announced as about to, so the courier syncs first. */
    const val SOON_SECONDS = 6 * 3600L

    private val dateTime = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")

    fun lines(state: TrustState, nowUnixSeconds: Long, zone: ZoneId): List<TextLine> = when (state) {
        TrustState.Shipped -> listOf(TextLine(R.string.trust_shipped))
        is TrustState.BundleUnusable -> listOf(TextLine(R.string.trust_unusable))
        is TrustState.Bundle -> bundle(state.info, nowUnixSeconds, zone)
    }

    private fun bundle(info: TrustBundleInfo, now: Long, zone: ZoneId): List<TextLine> {
        val lines = mutableListOf(TextLine(R.string.trust_bundle, listOf(info.serial.toString(), info.ageHours, time(info.expiresAt, zone))))
        val lists = info.revocationLists
        val stale = lists.count { it.stale }
        val nextUpdate = lists.mapNotNull { it.nextUpdate }.minOrNull()
        lines += when {
            lists.isEmpty() -> TextLine(R.string.trust_no_lists)
            stale > 0 || nextUpdate == null -> TextLine(R.string.trust_lists_stale, listOf(maxOf(stale, 1), lists.size))
            else -> TextLine(R.string.trust_lists_current, listOf(lists.size, time(nextUpdate, zone)))
        }
        when {
            info.expired -> lines += TextLine(R.string.trust_expired_warning)
            !info.current -> lines += TextLine(R.string.trust_stale_warning)
            info.expiresAt - now <= SOON_SECONDS -> lines += TextLine(R.string.trust_expiring_soon, listOf(maxOf((info.expiresAt - now) / 3600, 0L)))
        }
        return lines
    }

    private fun time(unixSeconds: Long, zone: ZoneId): String = dateTime.format(Instant.ofEpochSecond(unixSeconds).atZone(zone))
}
