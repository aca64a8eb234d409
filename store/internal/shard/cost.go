package shard

import "slices"

// Cost returns the bytes an entry with a key and value of the given lengths
// really occupies: both allocations rounded up to the allocator's size class,
// plus the entry's bookkeeping (its struct, its map slot and its heap slot).
// TestCostMatchesHeap checks the figure against the Go heap.
func Cost(keyLen, valueLen int) int64 {
	return entryOverhead + allocSize(keyLen) + allocSize(valueLen)
}

// entryOverhead is what one entry costs besides its key and value bytes:
// the entry struct (80-byte size class), a map slot (24 bytes plus a control
// byte, at the map's typical load) and the heap slice's pointer with its spare
// capacity. Measured by TestCostMatchesHeap.
const entryOverhead = 80 + 40 + 12

// sizeClasses are the Go allocator's small-object size classes (runtime/sizeclasses.go).
var sizeClasses = [...]int64{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
	1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
	6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
	20480, 21760, 24576, 27264, 28672, 32768,
}

// allocSize returns the bytes the allocator hands out for an n-byte object.
func allocSize(n int) int64 {
	if n <= 0 {
		return 0
	}
	if i, _ := slices.BinarySearch(sizeClasses[:], int64(n)); i < len(sizeClasses) {
		return sizeClasses[i]
	}
	const page = 8192
	return (int64(n) + page - 1) / page * page
}
