package jp.honnin.app

import jp.honnin.app.flow.EntryProblem
import jp.honnin.app.flow.LevelWarning
import jp.honnin.app.flow.NextStep
import jp.honnin.app.flow.ProblemKind
import jp.honnin.app.flow.SecretKind
import jp.honnin.app.flow.SecretProblem
import jp.honnin.app.ui.MainActivity
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory

/** The English and Japanese strings, and that every state the flow can show has its text. */
class ResourcesTest {
    private val res = File(System.getProperty("honnin.app.res"))

    private fun strings(dir: String): Map<String, String> {
        val doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(File(res, "$dir/strings.xml"))
        val nodes = doc.getElementsByTagName("string")
        return (0 until nodes.length).associate { i ->
            val node = nodes.item(i)
            node.attributes.getNamedItem("name").nodeValue to node.textContent
        }
    }

    private fun placeholders(text: String) = Regex("%\\d\\$[sd]").findAll(text).map { it.value }.toSet()

    @Test
    fun `English and Japanese have the same strings with the same placeholders`() {
        val en = strings("values")
        val ja = strings("values-ja")
        assertEquals(en.keys, ja.keys)
        for ((name, text) in en) {
            assertEquals(placeholders(text), placeholders(ja.getValue(name)), name)
            assertTrue(ja.getValue(name).isNotBlank(), name)
        }
    }

    @Test
    fun `every secret kind, problem and next step has its own text`() {
        val ids = SecretKind.entries.map(MainActivity::secretPrompt) +
            SecretProblem.entries.map(MainActivity::secretProblem) +
            EntryProblem.entries.map(MainActivity::entryProblem) +
            LevelWarning.entries.map(MainActivity::levelWarning) +
            NextStep.entries.map(MainActivity::nextStepText) +
            ProblemKind.entries.map(MainActivity::problemText)
        assertEquals(ids.size, ids.toSet().size, "no two states share a text")
    }
}
