package jp.honnin.app.screens

import android.content.res.Resources
import jp.honnin.app.R
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory

/**
 * The app's strings for one language, read from `res/values{,-ja}/strings.xml` and keyed by the
 * ids of the stand-in `R` class that scripts/render-screens generates.
 *
 * Why not Robolectric's own resources: it wants them compiled by aapt2 (`resources.arsc` and the
 * R class that goes with it), and aapt2 comes only with the Android SDK, which is not here. So
 * Robolectric runs with the framework's resources only (manifest NONE), and [StringResources]
 * answers the app's ids from this table.
 */
class AppStrings private constructor(val texts: Map<Int, String>) {
    companion object {
        private val resDir = File(checkNotNull(System.getProperty("honnin.app.res")) { "-Dhonnin.app.res is not set: run scripts/render-screens" })

        /** [qualifier] is the values folder's suffix: "" for English, "ja" for Japanese. */
        fun load(qualifier: String): AppStrings {
            val file = File(resDir, if (qualifier.isEmpty()) "values/strings.xml" else "values-$qualifier/strings.xml")
            val doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file)
            val nodes = doc.getElementsByTagName("string")
            val byName = (0 until nodes.length).associate { i ->
                val node = nodes.item(i)
                node.attributes.getNamedItem("name").nodeValue to unescape(node.textContent)
            }
            val ids = R.string::class.java.declaredFields
                .filter { it.type == Int::class.javaPrimitiveType && java.lang.reflect.Modifier.isStatic(it.modifiers) }
                .associate { it.name to it.getInt(null) }
            val missing = ids.keys - byName.keys
            check(missing.isEmpty()) { "$file lacks $missing" }
            return AppStrings(ids.entries.associate { (name, id) -> id to byName.getValue(name) })
        }

        /**
         * A string resource's text as aapt compiles it: whitespace runs outside double quotes
         * collapse to one space and the ends are trimmed, the quotes themselves go, and
         * backslash escapes (`\n`, `\t`, `\'`, `\"`, `\\`, `\@`, `\?`, `\uXXXX`) are resolved.
         */
        fun unescape(raw: String): String {
            val out = StringBuilder()
            var quoted = false
            var i = 0
            var pendingSpace = false
            while (i < raw.length) {
                val c = raw[i]
                when {
                    c == '\\' && i + 1 < raw.length -> {
                        if (pendingSpace && out.isNotEmpty()) out.append(' ')
                        pendingSpace = false
                        val next = raw[i + 1]
                        when (next) {
                            'n' -> out.append('\n')
                            't' -> out.append('\t')
                            'u' -> {
                                out.append(raw.substring(i + 2, i + 6).toInt(16).toChar())
                                i += 4
                            }
                            else -> out.append(next)
                        }
                        i += 2
                        continue
                    }
                    c == '"' -> quoted = !quoted
                    !quoted && c.isWhitespace() -> pendingSpace = true
                    else -> {
                        if (pendingSpace && out.isNotEmpty()) out.append(' ')
                        pendingSpace = false
                        out.append(c)
                    }
                }
                i++
            }
            return out.toString()
        }
    }
}

/**
 * The activity's resources: the framework's, plus the app's strings from [strings]. Only text is
 * answered here; the app has no other resources its screens use.
 */
@Suppress("DEPRECATION") // Resources(AssetManager, DisplayMetrics, Configuration): the public way to make one.
class StringResources(base: Resources, private val strings: AppStrings) :
    Resources(base.assets, base.displayMetrics, base.configuration) {
    override fun getText(id: Int): CharSequence = strings.texts[id] ?: super.getText(id)

    override fun getText(id: Int, def: CharSequence?): CharSequence? = strings.texts[id] ?: super.getText(id, def)
}
