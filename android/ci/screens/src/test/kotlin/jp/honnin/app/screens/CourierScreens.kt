package jp.honnin.app.screens

import android.content.Context
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.Canvas
import android.nfc.NfcAdapter
import android.os.Looper
import android.view.ContextThemeWrapper
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.ScrollView
import jp.honnin.app.CoreRecords
import jp.honnin.app.DeviceSettings
import jp.honnin.app.R
import jp.honnin.app.Services
import jp.honnin.app.flow.DoorCheckFlow
import jp.honnin.app.flow.FlowState
import jp.honnin.app.flow.ItemDirectory
import jp.honnin.app.flow.PolicyTable
import jp.honnin.app.keys.DeviceKeySigner
import jp.honnin.app.keys.WrappedKeyFile
import jp.honnin.app.keys.WrappedStoreKeyProvider
import jp.honnin.app.nfc.IsoDepTransport
import jp.honnin.app.nfc.TagReturns
import jp.honnin.app.sync.JobSchedulerSyncRequests
import jp.honnin.app.ui.MainActivity
import jp.honnin.app.ui.PinPadView
import jp.honnin.core.Level
import jp.honnin.core.TrustAnchors
import jp.honnin.core.Verifier
import jp.honnin.core.testAnchorsDirectory
import org.robolectric.Robolectric
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController
import org.robolectric.util.ReflectionHelpers
import java.io.File
import java.util.concurrent.TimeUnit

/** The languages the app ships, with the values folder and the Robolectric qualifier of each. */
enum class Language(val values: String, val qualifier: String) {
    EN("", "en-rUS"),
    JA("ja", "ja-rJP"),
}

/**
 * The courier's [MainActivity] under Robolectric, in [language], on the real flow, the real Rust
 * core (host build, software card) and a real record store in [storeDir]; [capture] draws what
 * the courier sees now.
 *
 * Wiring as [jp.honnin.app.HonninApp] does it, with JVM keys for Keystore's, the test PKI's trust
 * anchors for the deployment's, and no receiver (records stay waiting to send). Cards reach the
 * flow as the NFC reader hands them over ([present]); everything else goes through the flow's
 * own calls, as the screens' buttons make them, or through the PIN pad's keys ([typeOnPad]).
 */
class CourierScreens(val language: Language, directory: ItemDirectory, storeDir: File) : AutoCloseable {
    val strings = AppStrings.load(language.values)
    private val controller: ActivityController<MainActivity>
    val activity: MainActivity
    val flow: DoorCheckFlow

    init {
        RuntimeEnvironment.setQualifiers("+${language.qualifier}")
        val app = RuntimeEnvironment.getApplication()
        // A phone with NFC, switched on: the waiting screen then asks for the card.
        shadowOf(app.packageManager).setSystemFeature(PackageManager.FEATURE_NFC, true)
        shadowOf(NfcAdapter.getDefaultAdapter(app)).setEnabled(true)

        val settings = DeviceSettings(app.getSharedPreferences("honnin", Context.MODE_PRIVATE))
        val storeFile = File(storeDir, "records.db")
        val records = CoreRecords(
            storeFile = storeFile,
            storeKey = WrappedStoreKeyProvider(WrappedKeyFile(File(storeDir, "store-key.wrapped"), JceKeyWrapper()), storeFile),
            signer = DeviceKeySigner(JceDeviceKey()),
            deviceId = settings.deviceId,
            courierId = { "courier-7" },
            enrolments = NoEnrolment(),
            clock = WallClock,
        )
        ShadowHonninApp.services = Services(
            settings = settings,
            verifier = Verifier(TrustAnchors.fromDirectory(testAnchorsDirectory()), FixtureClock),
            directory = directory,
            policies = PolicyTable(emptyMap()),
            records = records,
            sync = records,
            enrolment = records,
            syncRequests = JobSchedulerSyncRequests(app),
        )

        controller = Robolectric.buildActivity(MainActivity::class.java)
        activity = controller.get()
        // The app's strings (see AppStrings): the activity's own Resources, which it and every
        // view it makes ask for text. A field of the framework's ContextThemeWrapper, set once
        // the activity is attached and before anything is drawn.
        ReflectionHelpers.setField(ContextThemeWrapper::class.java, activity, "mResources", StringResources(activity.baseContext.resources, strings))
        // The application's theme in AndroidManifest.xml, which Robolectric does not read here.
        activity.setTheme(android.R.style.Theme_Material_Light_NoActionBar)
        controller.setup()
        // The activity's flow: the one its screens render and its buttons drive.
        flow = ReflectionHelpers.getField(activity, "flow")
    }

    /** Runs what the flow posted to the main thread, so the activity shows the latest state. */
    fun idle() = shadowOf(Looper.getMainLooper()).idle()

    /** Waits for the flow to reach a [T] that [matches] (the card work runs on its worker). */
    inline fun <reified T : FlowState> await(seconds: Long = 60, matches: (T) -> Boolean = { true }): T {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (true) {
            idle()
            val state = flow.state
            if (state is T && matches(state)) {
                idle()
                return state
            }
            check(System.nanoTime() < deadline) { "no ${T::class.simpleName} within $seconds s; the flow is at $state" }
            Thread.sleep(5)
        }
    }

    /** A card held to the phone, as the NFC reader hands it to the flow. */
    fun present(link: ScreenCardLink, returns: TagReturns = TagReturns { null }, returnWaitMillis: Long = 200) {
        check(flow.cardPresented(IsoDepTransport(link, returns, returnWaitMillis = returnWaitMillis))) { "the flow was not waiting for a card" }
    }

    /** Presses the PIN pad's keys for [keys], then OK when [submit]. */
    fun typeOnPad(keys: String, submit: Boolean = false) {
        val pad = views(activity.window.decorView).filterIsInstance<PinPadView>().single()
        val buttons = views(pad).filterIsInstance<Button>()
        fun press(label: String) = buttons.single { it.text.toString() == label }.performClick()
        keys.forEach { press(it.toString()) }
        if (submit) press(strings.texts.getValue(R.string.secret_ok))
        idle()
    }

    /** The screen as the courier sees it now, at the display's size. */
    fun capture(): Bitmap {
        idle()
        val metrics = activity.resources.displayMetrics
        return draw(metrics.widthPixels, metrics.heightPixels)
    }

    /**
     * The whole page when it is longer than the screen (the courier scrolls to the rest), else
     * `null`: the screen grown by what the page's ScrollView hides.
     */
    fun capturePage(): Bitmap? {
        capture()
        val scroll = views(activity.window.decorView).filterIsInstance<ScrollView>().firstOrNull() ?: return null
        val hidden = scroll.getChildAt(0).height + scroll.paddingTop + scroll.paddingBottom - scroll.height
        if (hidden <= 0) return null
        val metrics = activity.resources.displayMetrics
        return draw(metrics.widthPixels, metrics.heightPixels + hidden)
    }

    private fun draw(width: Int, height: Int): Bitmap {
        val decor = activity.window.decorView
        decor.measure(
            View.MeasureSpec.makeMeasureSpec(width, View.MeasureSpec.EXACTLY),
            View.MeasureSpec.makeMeasureSpec(height, View.MeasureSpec.EXACTLY),
        )
        decor.layout(0, 0, width, height)
        return Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888).also { decor.draw(Canvas(it)) }
    }

    /** From item entry: [itemId] at level B with [pin] typed on the pad; the flow then waits for the card. */
    fun checkAtLevelB(itemId: String, pin: String) {
        await<FlowState.ItemEntry>()
        flow.enterItem(itemId)
        await<FlowState.LevelChoice>()
        flow.chooseLevel(Level.B)
        await<FlowState.SecretEntry>()
        typeOnPad(pin, submit = true)
        await<FlowState.WaitingForCard>()
    }

    override fun close() {
        flow.nextItem()
        idle()
        controller.pause().stop().destroy()
        idle()
        ShadowHonninApp.services = null
    }

    private fun views(root: View): List<View> =
        listOf(root) + if (root is ViewGroup) (0 until root.childCount).flatMap { views(root.getChildAt(it)) } else emptyList()
}
