import Foundation

/// Charts as SVG drawn by the node (no chart library, no script): horizontal bars, one per label,
/// each with its value written beside it, so the chart reads without colour and a screen reader
/// gets the same numbers from the table the page prints under it.
enum SVGChart {
    struct Bar: Sendable { let label: String; let value: Int }

    static func bars(title: String, _ bars: [Bar], unit: String) -> String {
        guard !bars.isEmpty else { return "<p class=\"empty\">No data for “\(HTML.escape(title))”.</p>" }
        let rowHeight = 26, labelWidth = 300, barWidth = 360, width = labelWidth + barWidth + 70
        let height = bars.count * rowHeight + 10
        let maxValue = max(1, bars.map(\.value).max() ?? 1)
        let id = "chart-" + String(title.utf8.reduce(UInt64(5381)) { ($0 &* 33) &+ UInt64($1) } % 1_000_000)
        var s = "<figure class=\"chart\"><svg role=\"img\" aria-labelledby=\"\(id)\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" xmlns=\"http://www.w3.org/2000/svg\">"
        s += "<title id=\"\(id)\">\(HTML.escape(title))</title>"
        for (i, b) in bars.enumerated() {
            let y = 5 + i * rowHeight
            let w = max(2, b.value * barWidth / maxValue)
            s += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 17)\" text-anchor=\"end\" font-size=\"13\" fill=\"#1a1a1a\">\(HTML.escape(b.label))</text>"
            s += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"\(rowHeight - 8)\" fill=\"#1f4e79\"><title>\(HTML.escape(b.label)): \(b.value) \(HTML.escape(unit))</title></rect>"
            s += "<text x=\"\(labelWidth + w + 6)\" y=\"\(y + 17)\" font-size=\"13\" fill=\"#1a1a1a\">\(b.value)</text>"
        }
        return s + "</svg><figcaption>\(HTML.escape(title))</figcaption></figure>"
    }
}
