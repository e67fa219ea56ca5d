// IR construction, verification and passes.
#include <catch2/catch.hpp>

#include "emu/cpu/ir/emitter.h"
#include "emu/cpu/ir/passes/passes.h"

using namespace emu;
using namespace emu::cpu;
using namespace emu::cpu::ir;

namespace {

unsigned CountOps(const Block& b, Opcode op) {
    unsigned n = 0;
    for (const Inst& i : b.insts()) n += i.op == op;
    return n;
}

}  // namespace

TEST_CASE("opcode table gives names and signatures", "[ir]") {
    CHECK(NameOf(Opcode::Add) == "Add");
    CHECK(InfoOf(Opcode::Add).num_args == 2);
    CHECK(InfoOf(Opcode::SetFlags).num_args == 5);
    CHECK(InfoOf(Opcode::CmpEq).ret == Type::U1);
    CHECK(IsTerminator(Opcode::ExitConst));
    CHECK_FALSE(IsTerminator(Opcode::Add));
    CHECK(HasSideEffects(Opcode::Load));
    CHECK_FALSE(HasSideEffects(Opcode::Add));
}

TEST_CASE("verifier accepts a well-formed block and rejects broken ones", "[ir]") {
    std::string error;
    Block good(0x1000);
    Emitter ir(good);
    ir.GuestInsn(0x1000, 3);
    const Value a = ir.GetGpr(0, 8);
    ir.SetGpr(1, 8, ir.Add(a, Emitter::Imm64(1)));
    ir.ExitConst(0x1003);
    CHECK(Verify(good, &error));

    Block no_terminator;
    Emitter(no_terminator).GetGpr(0, 8);
    CHECK_FALSE(Verify(no_terminator, &error));

    Block mixed_widths;
    Emitter m(mixed_widths);
    mixed_widths.Append(Opcode::Add, Type::U64, {m.GetGpr(0, 8), m.GetGpr(0, 4)});
    m.ExitConst(0);
    CHECK_FALSE(Verify(mixed_widths, &error));
    CHECK(error.find("widths") != std::string::npos);

    Block not_imm;
    Emitter n(not_imm);
    not_imm.Append(Opcode::GetGpr64, Type::U64, {n.GetGpr(0, 1)});
    n.ExitConst(0);
    CHECK_FALSE(Verify(not_imm, &error));
}

TEST_CASE("flag liveness removes flag writes overwritten before any read", "[ir][passes]") {
    // add rax, rbx ; sub rax, rcx: the ADD's flags are dead, the SUB's live at the block end.
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 3);
    Value a = ir.GetGpr(0, 8), x = ir.GetGpr(3, 8);
    Value r = ir.Add(a, x);
    ir.SetGpr(0, 8, r);
    ir.SetFlags(FlagOp::Add, a, x, r);
    ir.GuestInsn(3, 3);
    Value y = ir.GetGpr(1, 8);
    Value r2 = ir.Sub(r, y);
    ir.SetGpr(0, 8, r2);
    ir.SetFlags(FlagOp::Sub, r, y, r2);
    ir.ExitConst(6);
    Optimize(b);
    CHECK(CountOps(b, Opcode::SetFlags) == 1);
    CHECK(static_cast<FlagOp>(b.inst(b.size() - 2).args[0].imm()) == FlagOp::Sub);
}

TEST_CASE("flag liveness keeps flag writes that a condition reads", "[ir][passes]") {
    // cmp rax, rbx ; setz cl ; cmp rax, rcx
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 3);
    Value a = ir.GetGpr(0, 8), x = ir.GetGpr(3, 8);
    ir.SetFlags(FlagOp::Sub, a, x, ir.Sub(a, x));
    ir.GuestInsn(3, 3);
    ir.SetGpr(1, 1, ir.ZeroExtend(ir.GetCond(4), Type::U8));
    ir.GuestInsn(6, 3);
    Value y = ir.GetGpr(1, 8);
    ir.SetFlags(FlagOp::Sub, a, y, ir.Sub(a, y));
    ir.ExitConst(9);
    Optimize(b);
    CHECK(CountOps(b, Opcode::SetFlags) == 2);
}

TEST_CASE("flag liveness keeps flags live at an instruction that may fault", "[ir][passes]") {
    // add rax, rbx ; mov rcx, [rdx] ; sub ...: a #PF on the load must see the ADD's flags.
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 3);
    Value a = ir.GetGpr(0, 8), x = ir.GetGpr(3, 8);
    Value r = ir.Add(a, x);
    ir.SetFlags(FlagOp::Add, a, x, r);
    ir.GuestInsn(3, 3);
    ir.SetGpr(1, 8, ir.Load(ir.GetGpr(2, 8), Type::U64));
    ir.GuestInsn(6, 3);
    ir.SetFlags(FlagOp::Sub, a, x, ir.Sub(a, x));
    ir.ExitConst(9);
    Optimize(b);
    CHECK(CountOps(b, Opcode::SetFlags) == 2);
}

TEST_CASE("a shift by a variable count does not kill earlier flags", "[ir][passes]") {
    // add ; shl rax, cl (count may be 0 -> flags of the ADD survive)
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 3);
    Value a = ir.GetGpr(0, 8), x = ir.GetGpr(3, 8);
    Value r = ir.Add(a, x);
    ir.SetFlags(FlagOp::Add, a, x, r);
    ir.GuestInsn(3, 3);
    Value c = ir.And(ir.GetGpr(1, 1), Emitter::Imm8(63));
    Value s = ir.Shl(r, c);
    ir.SetFlags(FlagOp::Shl, r, ir.ZeroExtend(c, Type::U64), s);
    ir.ExitConst(6);
    Optimize(b);
    CHECK(CountOps(b, Opcode::SetFlags) == 2);
}

TEST_CASE("dead code elimination drops unused pure values and keeps side effects", "[ir][passes]") {
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 1);
    Value a = ir.GetGpr(0, 8);
    ir.Mul(a, a);                            // unused
    ir.Load(Emitter::Imm64(0x100), Type::U8);  // unused but may fault: kept
    ir.SetGpr(1, 8, a);
    ir.ExitConst(1);
    DeadCodeEliminationPass(b);
    CHECK(CountOps(b, Opcode::Mul) == 0);
    CHECK(CountOps(b, Opcode::Load) == 1);
    CHECK(CountOps(b, Opcode::GetGpr64) == 1);
    std::string error;
    CHECK(Verify(b, &error));
}

TEST_CASE("the printer shows each instruction", "[ir]") {
    Block b(0x10);
    Emitter ir(b);
    ir.GuestInsn(0x10, 1);
    ir.SetGpr(0, 8, ir.Add(ir.GetGpr(0, 8), Emitter::Imm64(5)));
    ir.ExitConst(0x11);
    const std::string text = b.ToString();
    CHECK(text.find("GetGpr64") != std::string::npos);
    CHECK(text.find("Add") != std::string::npos);
    CHECK(text.find("ExitConst 0x11") != std::string::npos);
}

TEST_CASE("get/set elimination forwards register values and drops overwritten writes", "[ir][passes]") {
    // mov rax, rbx ; add rax, 1 ; mov rax, 7: the first two writes of RAX are dead, RBX is read once.
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 3);
    ir.SetGpr(0, 8, ir.GetGpr(3, 8));
    ir.GuestInsn(3, 4);
    ir.SetGpr(0, 8, ir.Add(ir.GetGpr(0, 8), Emitter::Imm64(1)));
    ir.GuestInsn(7, 4);
    ir.SetGpr(3, 8, ir.Add(ir.GetGpr(3, 8), Emitter::Imm64(2)));
    ir.SetGpr(0, 8, Emitter::Imm64(7));
    ir.ExitConst(11);
    Optimize(b);
    CHECK(CountOps(b, Opcode::GetGpr64) == 1);
    CHECK(CountOps(b, Opcode::SetGpr64) == 2);
}

TEST_CASE("get/set elimination keeps a register write before an instruction that may fault", "[ir][passes]") {
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 3);
    ir.SetGpr(0, 8, Emitter::Imm64(1));
    ir.GuestInsn(3, 3);
    const Value v = ir.Load(ir.GetGpr(3, 8), Type::U64);
    ir.SetGpr(0, 8, v);
    ir.ExitConst(6);
    Optimize(b);
    CHECK(CountOps(b, Opcode::SetGpr64) == 2);
}

TEST_CASE("get/set elimination derives a read of another width from a known register value", "[ir][passes]") {
    // mov edx, r8d ; add rdx, r11 ; mov al, dl: RDX is EDX zero-extended, DL the truncation of the sum.
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 3);
    ir.SetGpr(2, 4, ir.GetGpr(8, 4));
    ir.GuestInsn(3, 3);
    ir.SetGpr(2, 8, ir.Add(ir.GetGpr(2, 8), ir.GetGpr(11, 8)));
    ir.GuestInsn(6, 2);
    ir.SetGpr(0, 1, ir.GetGpr(2, 1));
    ir.ExitConst(8);
    Optimize(b);
    CHECK(CountOps(b, Opcode::GetGpr64) == 1);  // R11 only
    CHECK(CountOps(b, Opcode::GetGpr8) == 0);
    CHECK(CountOps(b, Opcode::ZeroExtend) == 1);
    CHECK(CountOps(b, Opcode::Truncate) == 1);
}

TEST_CASE("get/set elimination does not zero-extend a 32-bit value it only read", "[ir][passes]") {
    // mov eax, ebx reads EBX; RBX's upper half is unknown, so a later 64-bit read of RBX stays a read.
    Block b(0);
    Emitter ir(b);
    ir.GuestInsn(0, 2);
    ir.SetGpr(0, 4, ir.GetGpr(3, 4));
    ir.GuestInsn(2, 3);
    ir.SetGpr(1, 8, ir.GetGpr(3, 8));
    ir.ExitConst(5);
    Optimize(b);
    CHECK(CountOps(b, Opcode::GetGpr64) == 1);
    CHECK(CountOps(b, Opcode::ZeroExtend) == 0);
}

TEST_CASE("the verifier rejects field access that aliases the GPRs", "[ir]") {
    Block b(0);
    Emitter ir(b);
    ir.GetField(0, Type::U64);
    ir.ExitConst(0);
    std::string error;
    CHECK_FALSE(Verify(b, &error));
}
