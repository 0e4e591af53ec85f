// The umbrella module for Swift users: `import ClipCore` brings in every layer.

@_exported import Tensor
@_exported import Autograd
@_exported import NN
@_exported import Images
@_exported import Models
@_exported import Adapters
@_exported import Datasets
@_exported import Search
@_exported import Pipelines
@_exported import Evaluation
@_exported import Heads
@_exported import Losses
@_exported import Plots
@_exported import Studies
@_exported import Training
@_exported import ClipDistributed
