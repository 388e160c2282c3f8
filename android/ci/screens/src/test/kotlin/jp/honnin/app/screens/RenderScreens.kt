package jp.honnin.app.screens

import android.graphics.Bitmap
import jp.honnin.app.HonninApp
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.ManifestDirectory
import jp.honnin.app.flow.ManifestEntry
import jp.honnin.app.flow.NextStep
import jp.honnin.app.flow.SecretKind
import jp.honnin.app.nfc.TagHandoff
import jp.honnin.core.Addressee
import jp.honnin.core.Date
import jp.honnin.core.FaceDecision
import jp.honnin.core.Level
import jp.honnin.core.SoftwareCardTransport
import jp.honnin.core.Verdict
import org.junit.Assert.assertEquals
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import java.io.File

/** The software card's holder, as a sender registers them. */
val holder = Addressee(name = "試験\u3000花子", address = "東京都千代田区試験町1-2-3", birthDate = Date(1990u, 4u, 1u))

/** The device's manifest: JP-0001 from test-bank, level B at least. JP-0002 is not in it. */
val manifest = ManifestDirectory(listOf(ManifestEntry("JP-0001", "test-bank", holder, minimumLevel = Level.B)))

/**
 * Writes every courier screen, in English and Japanese, to `-Dhonnin.screens.out` (default
 * target/screens at the repository's root) as `en/NN-name.png` and `ja/NN-name.png`, and
 * `NN-name-page.png` for a page longer than the screen. The command is scripts/render-screens.
 * Each screen is reached by walking the real flow with the software card, as a courier would.
 */
@RunWith(RobolectricTestRunner::class)
@GraphicsMode(GraphicsMode.Mode.NATIVE)
@Config(sdk = [35], manifest = Config.NONE, application = HonninApp::class, shadows = [ShadowHonninApp::class], qualifiers = SCREEN)
class RenderScreens {
    @get:Rule
    val tmp = TemporaryFolder()

    @Test
    fun `every courier screen in English and Japanese`() {
        val out = File(checkNotNull(System.getProperty("honnin.screens.out")) { "-Dhonnin.screens.out is not set" })
        for (language in Language.entries) {
            val dir = File(out, language.name.lowercase()).apply { deleteRecursively(); mkdirs() }
            var n = 0
            CourierScreens(language, manifest, tmp.newFolder()).use { screens ->
                walk(screens) { name, bitmap ->
                    n++
                    write(bitmap, File(dir, "%02d-%s.png".format(n, name)))
                    screens.capturePage()?.let { write(it, File(dir, "%02d-%s-page.png".format(n, name))) }
                }
            }
            println("render-screens: $n screens in $dir")
        }
    }

    private fun write(bitmap: Bitmap, file: File) = file.outputStream().use { bitmap.compress(Bitmap.CompressFormat.PNG, 100, it) }

    companion object {
        /**
         * The courier's day in screens, each handed to [shot] as it shows: a typed item checked at
         * level A (face photo), a manifest item at level B with the card moving away and coming
         * back, a card that leaves for good (a retry: the core reports the loss as `card_removed`,
         * so the flow's own CardLost screen is not reached), a forged card, the PIN guard with
         * the manifest's minimum B (counter pick-up), and the history.
         */
        fun walk(screens: CourierScreens, shot: (String, Bitmap) -> Unit) = with(screens) {
            await<FlowState.ItemEntry>()
            shot("item-entry", capture())

            // An item not in the manifest: typed from its label, every level offered with the
            // warning, level A only once confirmed.
            flow.enterItem("JP-0002")
            await<FlowState.ItemEntry> { it.itemNeedingDetails != null }
            shot("item-details", capture())
            flow.enterDetails("test-bank", holder.name)
            await<FlowState.LevelChoice> { it.warning != null }
            shot("level-choice-sender-unknown", capture())
            flow.chooseLevel(Level.A)
            await<FlowState.LevelChoice> { it.confirming == Level.A }
            shot("level-confirm-a", capture())
            flow.confirmLevel()
            await<FlowState.SecretEntry> { it.kind == SecretKind.MATCHING_NUMBER_B }
            val genuine = SoftwareCardTransport("genuine")
            val numberB = genuine.secrets().matchingNumberB
            typeOnPad(numberB.take(6))
            shot("matching-number-b", capture())
            typeOnPad(numberB.drop(6), submit = true)
            await<FlowState.WaitingForCard>()
            shot("waiting-for-card", capture())

            // Held halfway through the face photo: "hold the card still" with its progress.
            val holding = ScreenCardLink(genuine, holdWhen = { halfRead(screens) })
            present(holding)
            holding.awaitHeld()
            await<FlowState.Reading> { halfRead(screens) }
            shot("reading", capture())
            holding.release()
            await<FlowState.FaceComparison>()
            shot("face-comparison", capture())
            flow.confirmFace(FaceDecision.CONFIRMED)
            assertEquals(Verdict.GENUINE, await<FlowState.Outcome>().verdict)
            shot("verdict-genuine-level-a", capture())

            // The manifest's item: B and C only, no warning; the PIN on the pad.
            flow.nextItem()
            flow.enterItem("JP-0001")
            await<FlowState.LevelChoice>()
            shot("level-choice", capture())
            flow.chooseLevel(Level.B)
            await<FlowState.SecretEntry> { it.kind == SecretKind.AUTH_PIN }
            val pin = genuine.secrets().authPin
            typeOnPad(pin.take(2))
            shot("pin-pad", capture())
            typeOnPad(pin.drop(2), submit = true)
            await<FlowState.WaitingForCard>()
            // The card leaves on its fifth exchange; reader mode finds it again a moment later.
            val handoff = TagHandoff()
            val leaving = ScreenCardLink(genuine, loseOn = 5)
            present(leaving, handoff, returnWaitMillis = 30_000)
            await<FlowState.Reading> { it.progress.cardAway }
            shot("reading-card-away", capture())
            handoff.offer(leaving.rediscovered())
            assertEquals(Verdict.GENUINE, await<FlowState.Outcome>().verdict)
            shot("verdict-genuine-level-b", capture())

            // A card that leaves after the PIN and does not come back: a clear retry, no verdict.
            flow.nextItem()
            checkAtLevelB("JP-0001", pin)
            present(ScreenCardLink(genuine, loseOn = 5))
            assertEquals(NextStep.RETRY, await<FlowState.Outcome>().next)
            shot("card-left-retry", capture())

            // A forged card: never sent the PIN, forged, recorded.
            flow.nextItem()
            val forged = SoftwareCardTransport("forged-ca")
            checkAtLevelB("JP-0001", forged.secrets().authPin)
            present(ScreenCardLink(forged))
            assertEquals(Verdict.FORGED, await<FlowState.Outcome>().verdict)
            shot("verdict-forged", capture())

            // One PIN try left: the PIN guard stops; the manifest's minimum B sends the holder to the counter.
            flow.nextItem()
            val lastTry = SoftwareCardTransport("pin-one-try-left")
            checkAtLevelB("JP-0001", lastTry.secrets().authPin)
            present(ScreenCardLink(lastTry))
            assertEquals(NextStep.REFER_TO_COUNTER, await<FlowState.Outcome>().next)
            shot("verdict-pin-guard-counter", capture())

            flow.nextItem()
            await<FlowState.ItemEntry>()
            flow.showHistory()
            await<FlowState.History>()
            shot("history", capture())
        }

        /** The read is past half of a file whose size is known. */
        private fun halfRead(screens: CourierScreens): Boolean {
            val reading = screens.flow.state as? FlowState.Reading ?: return false
            val total = reading.progress.bytesTotal ?: return false
            return total > 0 && reading.progress.bytesRead * 2 >= total
        }
    }
}

/** A handheld's screen: 360 × 640 dp at 320 dpi, 720 × 1280 pixels. */
const val SCREEN = "w360dp-h640dp-port-xhdpi"
