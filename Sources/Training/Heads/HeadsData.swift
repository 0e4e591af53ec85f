// Pre-encoded image–caption pairs for projection heads: an image matrix and a caption matrix,
// possibly from different models, joined by each caption's image id.

import Foundation
import Tensor
import Pipelines

/// Image embeddings `[images, d_i]` and caption embeddings `[captions, d_t]` with the caption → image map.
public struct HeadsData {
    public let images: Tensor
    public let imageIds: [Int64]
    public let texts: Tensor
    /// For each caption row, its image's row in `images`.
    public let imageOfText: [Int]
    /// Each image id's row in `images`.
    let rowOfImageId: [Int64: Int]
    /// Where they were read from (recorded in the split manifests).
    public let imagePath: String
    public let textPath: String

    public var imageDim: Int { images.shape[1] }
    public var textDim: Int { texts.shape[1] }

    public init(images: Tensor, imageIds: [Int64], texts: Tensor, imageOfText: [Int],
                imagePath: String = "", textPath: String = "") throws {
        guard images.rank == 2, texts.rank == 2 else {
            throw ClipError(.shape, "heads data: embeddings must be matrices, got images \(images.shape) and texts \(texts.shape)")
        }
        guard imageIds.count == images.shape[0], imageOfText.count == texts.shape[0] else {
            throw ClipError(.shape, "heads data: \(images.shape[0]) images with \(imageIds.count) ids, \(texts.shape[0]) captions with \(imageOfText.count) image rows")
        }
        guard images.shape[0] > 0, texts.shape[0] > 0, images.shape[1] > 0, texts.shape[1] > 0 else {
            throw ClipError(.shape, "heads data: no embeddings (images \(images.shape), texts \(texts.shape))")
        }
        if let bad = imageOfText.first(where: { $0 < 0 || $0 >= images.shape[0] }) {
            throw ClipError(.invalidArgument, "heads data: a caption refers to image row \(bad) of \(images.shape[0])")
        }
        for (name, m) in [("image", images), ("text", texts)] {
            let c = m.contiguous()
            if let i = (0..<c.count).first(where: { !c.data[$0].isFinite }) {
                throw ClipError(.invalidArgument, "heads data: \(name) embeddings hold a non-finite value (row \(i / c.shape[1]))")
            }
        }
        self.images = images.contiguous()
        self.imageIds = imageIds
        self.texts = texts.contiguous()
        self.imageOfText = imageOfText
        rowOfImageId = Dictionary(imageIds.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        self.imagePath = imagePath
        self.textPath = textPath
    }

    /// Reads the image rows of `imagePath` and the caption rows of `textPath` (each an embedding shard
    /// folder as `clip encode-dataset` writes it, or an embedding store); captions are joined to images by
    /// their image ids.
    /// - Throws: `ClipError` naming the file, or a caption whose image is missing.
    public static func load(imagePath: String, textPath: String) throws -> HeadsData {
        let images = try EmbeddingStore.load(path: imagePath, modality: .image)
        let texts = try EmbeddingStore.load(path: textPath, modality: .text)
        let pairing: [Int]
        do { pairing = try EmbeddingStore.pairing(texts: texts, images: images, sameSpace: false) } catch let e as ClipError {
            throw e.prefixed("\(textPath) with \(imagePath)")
        }
        return try HeadsData(images: images.embeddings, imageIds: images.ids, texts: texts.embeddings, imageOfText: pairing,
                             imagePath: imagePath, textPath: textPath)
    }

    public static func load(_ config: HeadsRunConfig) throws -> HeadsData {
        try load(imagePath: config.data.imageEmbeddings, textPath: config.textEmbeddingsPath)
    }

    /// The rows of the images `ids` (ids the data lacks are left out).
    func imageRows(ofIds ids: [Int64]) -> [Int] { ids.compactMap { rowOfImageId[$0] } }

    /// The caption rows of the images in `imageRows`, in caption order.
    func captionRows(ofImages imageRows: Set<Int>) -> [Int] {
        imageOfText.indices.filter { imageRows.contains(imageOfText[$0]) }
    }
}
