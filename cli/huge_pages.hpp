#pragma once
// heap_on_huge_pages(): called first thing in main. The main heap then grows
// in 64 MiB steps of address space (touched, and so paid for, only as used),
// keeps what it has, serves blocks up to 32 MiB itself, and asks the kernel
// for 2 MiB pages over it. A fresh 4 KiB page costs a fault, about 5 µs on a
// virtual machine; `gradcheck check` touched 4,500 of them (bench/README.md#whole-processes).
// Best effort: without glibc or transparent huge pages ("madvise" or
// "always"), it changes nothing that a result depends on.
namespace gradcheck::cli {

void heap_on_huge_pages();

}  // namespace gradcheck::cli
