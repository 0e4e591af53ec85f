// An 8-bit RGB image, and PNG and JPEG decoding into one.

import Foundation
import Tensor
import CCodecs

/// 8-bit RGB pixels, row-major, interleaved (`height × width × 3` bytes).
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    /// Wraps a raw RGB8 buffer.
    /// - Throws: `ClipError` when the sizes are not positive or the buffer is not `width · height · 3` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else { throw ClipError.invalidArgument("image: size \(width)×\(height) must be positive") }
        let (n, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, n <= Int.max / 3, pixels.count == n * 3 else {
            throw ClipError.invalidArgument("image: \(pixels.count) bytes do not hold \(width)×\(height) RGB pixels")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Most pixels a decoded image may have: `ResourceLimit.imagePixels` (by default 178,956,970,
    /// PIL's decompression-bomb error threshold; `CLIPCORE_MAX_IMAGE_PIXELS` sets it). A PNG or JPEG
    /// whose header declares more is refused before any pixel is allocated.
    public static var maxPixels: UInt64 { UInt64(ResourceLimit.imagePixels.value) }

    /// The side of the largest square image (13377 pixels by default).
    public static var maxSide: Int { Int(Double(maxPixels).squareRoot()) }

    /// Checks a size an image is about to be made at (a resize or crop target from a config).
    /// - Throws: `ClipError(.invalidArgument)` naming `what` when it is beyond `maxPixels` pixels.
    package static func checkSize(width: Int, height: Int, _ what: String) throws {
        guard width > 0, height > 0, UInt64(width) <= maxPixels, UInt64(height) <= maxPixels,
              UInt64(width) * UInt64(height) <= maxPixels else {
            throw ClipError.invalidArgument("\(what): \(width)×\(height) is beyond the \(maxPixels)-pixel limit of an image")
        }
    }

    /// Decodes a PNG (every colour type, bit depth and interlacing) to RGB
    /// as PIL's `Image.open(...).convert("RGB")` does.
    /// - Throws: `ClipError` naming the problem for corrupt, truncated or non-PNG data;
    ///   `.unsupported` when the header declares more than `maxPixels` pixels.
    public init(png data: [UInt8], name: String = "PNG data") throws {
        try self.init(decoding: data, name: name, format: .png, with: cc_png_decode)
    }

    /// Decodes a JPEG (baseline or progressive, any chroma subsampling, grayscale, CMYK / YCCK)
    /// to RGB as PIL's `Image.open(...).convert("RGB")` does with the same libjpeg-turbo.
    /// No EXIF orientation is applied (PIL's open/convert does not either).
    /// - Throws: `ClipError` (`.format`, or `.unsupported` for component counts PIL cannot open)
    ///   naming the problem for corrupt, truncated or non-JPEG data, or for more than `maxPixels` pixels.
    public init(jpeg data: [UInt8], name: String = "JPEG data") throws {
        try self.init(decoding: data, name: name, format: .jpeg, with: cc_jpeg_decode)
    }

    /// Runs one of CCodecs' decoders (they share a signature and status codes) and copies its pixels.
    private init(decoding data: [UInt8], name: String, format: FileFormat,
                 with decode: (UnsafePointer<UInt8>?, Int, UInt64, UnsafeMutablePointer<cc_image>?,
                               UnsafeMutablePointer<CChar>?, Int) -> Int32) throws {
        var img = cc_image()
        var message = [CChar](repeating: 0, count: 256)
        let status = data.withUnsafeBufferPointer { buf in
            decode(buf.baseAddress, buf.count, RGBImage.maxPixels, &img, &message, message.count)
        }
        if Int(status) == Int(CC_ERR_TOO_LARGE) {
            throw ResourceLimit.imagePixels.exceeded(UInt64(img.width) * UInt64(img.height),
                                                     in: "\(name) (\(format.rawValue) of \(img.width)x\(img.height) pixels)")
        }
        guard status == 0, let rgb = img.rgb else {
            let why = String(cString: message)
            let text = "\(name): cannot decode \(format.rawValue) (\(why.isEmpty ? "status \(status)" : why))"
            throw Int(status) == Int(CC_ERR_UNSUPPORTED) ? ClipError.unsupported(text) : ClipError.format(text)
        }
        defer { cc_free(rgb) }
        let w = Int(img.width), h = Int(img.height)
        try self.init(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: rgb, count: w * h * 3)))
    }

    /// The image formats recognised by their first bytes.
    package enum FileFormat: String, Sendable {
        case png = "PNG", jpeg = "JPEG"

        /// The format whose signature `data` starts with (PNG `89 50 4E 47`, JPEG `FF D8 FF`), if any.
        package init?(sniffing data: [UInt8]) {
            if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) { self = .png }
            else if data.starts(with: [0xFF, 0xD8, 0xFF]) { self = .jpeg }
            else { return nil }
        }
    }

    /// Decodes a PNG or a JPEG, recognised by its content (not by any file name).
    /// - Throws: `ClipError.unsupported` naming `name` and the first bytes when the data is
    ///   neither; otherwise as `init(png:name:)` and `init(jpeg:name:)`.
    public init(encoded data: [UInt8], name: String = "image data") throws {
        switch FileFormat(sniffing: data) {
        case .png: try self.init(png: data, name: name)
        case .jpeg: try self.init(jpeg: data, name: name)
        case nil: throw ClipError.unsupported("\(name): not a PNG or JPEG image (\(RGBImage.describeStart(data)))")
        }
    }

    /// Reads and decodes a PNG or JPEG file, recognised by its content, not its extension.
    public init(contentsOfFile path: String) throws {
        guard let data = FileContents.read(atPath: path) else {
            throw ClipError.io("\(path): cannot read the file")
        }
        try self.init(encoded: [UInt8](data), name: path)
    }

    /// "empty file" or the first bytes in hex, with their printable ASCII.
    static func describeStart(_ data: [UInt8]) -> String {
        if data.isEmpty { return "the file is empty" }
        let head = data.prefix(8)
        let hex = head.map { String(format: "%02X", $0) }.joined(separator: " ")
        let ascii = String(head.map { (0x20..<0x7F).contains($0) ? Character(UnicodeScalar($0)) : "." })
        return "first bytes \(hex) \"\(ascii)\""
    }
}

extension RGBImage {
    /// The image encoded as an 8-bit RGB PNG (through libpng).
    public func pngData() throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = pixels.withUnsafeBufferPointer {
            cc_png_encode_rgb($0.baseAddress, UInt32(width), UInt32(height), &out, &size)
        }
        guard status == 0, let out else { throw ClipError.internal("image: cannot encode \(width)×\(height) as PNG (status \(status))") }
        defer { cc_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// The image encoded as a baseline JPEG of `quality` (1–100), for test and benchmark data.
    public func jpegData(quality: Int = 90) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = pixels.withUnsafeBufferPointer {
            cc_jpeg_encode_rgb($0.baseAddress, UInt32(width), UInt32(height), Int32(quality), &out, &size)
        }
        guard status == 0, let out else { throw ClipError.internal("image: cannot encode \(width)×\(height) as JPEG (status \(status))") }
        defer { cc_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Writes the image as a PNG file, atomically (`AtomicFile`: a temporary file renamed into place).
    public func writePNG(to path: String) throws {
        try AtomicFile.write(Data(try pngData()), to: path)
    }
}
