// Run-time CPU detection and the instruction-set levels the kernels choose from: level names,
// CLIPCORE_ISA's cap (it lowers, never raises), the level each feature set allows, and the features
// detected here against the kernel's own list in /proc/cpuinfo.

import Testing
import Foundation
import Tensor
import CKernels

@Suite struct CPUFeaturesTests {
    let names = ["baseline", "avx2", "avx512", "avx512_vnni", "avx512_bf16"]

    @Test func levelNamesParseBack() {
        for (level, name) in names.enumerated() {
            #expect(ck_isa_parse(name) == Int32(level))
            #expect(String(cString: ck_isa_level_name(Int32(level))) == name)
        }
        #expect(ck_isa_parse("avx512bf16") == -1 && ck_isa_parse("") == -1 && ck_isa_parse(nil) == -1)
        #expect(String(cString: ck_isa_level_name(9)) == "unknown")
    }

    @Test func clipcoreISALowersAndNeverRaises() {
        #expect(ck_isa_cap(4, "avx2") == 1)
        #expect(ck_isa_cap(4, "baseline") == 0)
        #expect(ck_isa_cap(1, "avx512_bf16") == 1)
        #expect(ck_isa_cap(3, nil) == 3 && ck_isa_cap(3, "") == 3 && ck_isa_cap(3, "native") == 3)
        #expect(ck_isa_cap(3, "sse9") == -1)
    }

    @Test func featuresGiveTheirLevel() {
        let avx2 = UInt32(CK_CPU_AVX2) | UInt32(CK_CPU_FMA)
        let avx512 = avx2 | UInt32(CK_CPU_AVX512F) | UInt32(CK_CPU_AVX512BW)
        #expect(ck_cpu_level(0) == 0)
        #expect(ck_cpu_level(UInt32(CK_CPU_AVX2)) == 0)                  // AVX2 without FMA
        #expect(ck_cpu_level(avx2) == 1)
        #expect(ck_cpu_level(avx2 | UInt32(CK_CPU_AVX512F)) == 1)         // F without BW
        #expect(ck_cpu_level(avx512) == 2)
        #expect(ck_cpu_level(avx512 | UInt32(CK_CPU_AVX512BF16)) == 2)    // BF16 without VNNI
        #expect(ck_cpu_level(avx512 | UInt32(CK_CPU_AVX512VNNI)) == 3)
        #expect(ck_cpu_level(avx512 | UInt32(CK_CPU_AVX512VNNI) | UInt32(CK_CPU_AVX512BF16)) == 4)
        #expect(ck_cpu_level(avx2 | UInt32(CK_CPU_AVXVNNI)) == 1)         // AVX-VNNI alone adds no AVX-512 level
    }

    /// The features detected are those the kernel lists for this CPU (Linux lists AVX-512 only when
    /// it saves the ZMM state, as the detection requires).
    @Test func detectedFeaturesAreTheKernelsList() throws {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            print("CPUFeaturesTests: no /proc/cpuinfo flags line here; the comparison is skipped")
            return
        }
        let flags = Set(line.split(separator: ":", maxSplits: 1).last!.split(separator: " ").map(String.init))
        let detected = Set(Threads.cpuFeatures)
        for name in ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16"] {
            #expect(detected.contains(name) == flags.contains(name), "\(name): detected \(detected.contains(name)), /proc/cpuinfo \(flags.contains(name))")
        }
        // The level in use is at most the CPU's, and the row kernels follow it.
        let cpu = ck_cpu_level(ck_cpu_features()), inUse = ck_isa_level()
        #expect(inUse <= cpu)
        #expect((ck_isa() != 0) == (inUse >= 1))
        let summary = Threads.runtimeSummary
        #expect(summary.hasPrefix("kernels \(Threads.kernelPath); OpenBLAS "), "\(summary)")
        #expect(summary.contains("(level \(names[Int(cpu)]), in use \(names[Int(inUse)]))"), "\(summary)")
    }
}
