package jp.honnin.app.screens

import android.graphics.Bitmap
import jp.honnin.app.HonninApp
import jp.honnin.app.flow.FlowState
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.Verdict
import android.view.WindowManager
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode

/** What the renderer draws: the screen's size, text in it, the language, and the verdict. */
@RunWith(RobolectricTestRunner::class)
@GraphicsMode(GraphicsMode.Mode.NATIVE)
@Config(sdk = [35], manifest = Config.NONE, application = HonninApp::class, shadows = [ShadowHonninApp::class], qualifiers = SCREEN)
class RenderedScreensTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private fun itemEntry(language: Language): Bitmap = CourierScreens(language, manifest, tmp.newFolder()).use {
        it.await<FlowState.ItemEntry>()
        it.capture()
    }

    @Test
    fun `item entry is drawn at the display's size, with the app's own text in each language`() {
        val en = itemEntry(Language.EN)
        val ja = itemEntry(Language.JA)
        for (screen in listOf(en, ja)) {
            assertEquals(720, screen.width)
            assertEquals(1280, screen.height)
            // Title, field, three buttons: well over 1% of the pixels are not background.
            assertTrue("the screen is nearly blank", differing(screen, background(screen)) > 0.01)
        }
        // The same layout in another language's strings, not the same picture twice.
        assertTrue("English and Japanese look the same", differing(en, ja) > 0.005)
    }

    @Test
    fun `a forged card's verdict screen is not a genuine card's`() {
        CourierScreens(Language.EN, manifest, tmp.newFolder()).use { screens ->
            val genuine = SoftwareCardTransport("genuine")
            screens.checkAtLevelB("JP-0001", genuine.secrets().authPin)
            screens.present(ScreenCardLink(genuine))
            assertEquals(Verdict.GENUINE, screens.await<FlowState.Outcome>().verdict)
            val handOver = screens.capture()

            screens.flow.nextItem()
            val forged = SoftwareCardTransport("forged-ca")
            screens.checkAtLevelB("JP-0001", forged.secrets().authPin)
            screens.present(ScreenCardLink(forged))
            assertEquals(Verdict.FORGED, screens.await<FlowState.Outcome>().verdict)
            val doNotHandOver = screens.capture()

            assertTrue("the verdicts look the same", differing(handOver, doNotHandOver) > 0.005)
        }
    }

    @Test
    fun `screens with a secret or the holder's data are kept out of screenshots and recents`() {
        CourierScreens(Language.EN, manifest, tmp.newFolder()).use { screens ->
            fun secure(): Boolean = screens.activity.window.attributes.flags and WindowManager.LayoutParams.FLAG_SECURE != 0
            screens.await<FlowState.ItemEntry>()
            assertFalse("item entry has nothing to hide", secure())
            val card = SoftwareCardTransport("genuine")
            screens.checkAtLevelB("JP-0001", card.secrets().authPin)
            screens.present(ScreenCardLink(card))
            screens.await<FlowState.Outcome>()
            assertTrue("the verdict screen can be captured", secure())
            screens.flow.nextItem()
            screens.await<FlowState.ItemEntry>()
            assertFalse("item entry stayed secure after a check", secure())
        }
    }

    private fun background(screen: Bitmap): Bitmap =
        Bitmap.createBitmap(screen.width, screen.height, Bitmap.Config.ARGB_8888).apply { eraseColor(screen.getPixel(1, screen.height - 2)) }

    /** The share of pixels that differ between [a] and [b]. */
    private fun differing(a: Bitmap, b: Bitmap): Double {
        assertEquals(a.width, b.width)
        assertEquals(a.height, b.height)
        val pa = IntArray(a.width * a.height).also { a.getPixels(it, 0, a.width, 0, 0, a.width, a.height) }
        val pb = IntArray(b.width * b.height).also { b.getPixels(it, 0, b.width, 0, 0, b.width, b.height) }
        return pa.indices.count { pa[it] != pb[it] }.toDouble() / pa.size
    }
}
