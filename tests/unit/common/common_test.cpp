#include <catch2/catch.hpp>

#include "emu/common/address.h"
#include "emu/common/bits.h"
#include "emu/common/log.h"
#include "emu/common/result.h"

using namespace emu;

TEST_CASE("bit helpers follow the SDM's notation", "[common]") {
    CHECK(Bits(0xABCD, 11, 4) == 0xBC);
    CHECK(SignExtend(0x80, 8) == 0xFFFFFFFFFFFFFF80ull);
    CHECK(SignExtend(0x7F, 8) == 0x7F);
    CHECK(LowMask(64) == ~0ull);
    CHECK(IsCanonical(0x00007FFFFFFFFFFFull));
    CHECK_FALSE(IsCanonical(0x0000800000000000ull));
    CHECK(IsCanonical(0xFFFF800000000000ull));
    CHECK(AlignUp(0x1001, 0x1000) == 0x2000);
}

TEST_CASE("addresses of different kinds keep their page arithmetic", "[common]") {
    const Gpa gpa(0x12345678);
    CHECK(GfnOf(gpa) == 0x12345);
    CHECK(GpaOf(0x12345).value() == 0x12345000);
    CHECK((gpa + 8).page_offset() == 0x680);
    static_assert(!std::is_convertible_v<Gpa, Gva>);
}

enum class TestError { Bad };

TEST_CASE("Result carries either a value or an error", "[common]") {
    Result<int, TestError> good = 5;
    Result<int, TestError> bad = Err{TestError::Bad};
    REQUIRE(good.ok());
    CHECK(*good == 5);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error() == TestError::Bad);
}

TEST_CASE("log categories parse like QEMU's -d", "[common][log]") {
    std::string bad;
    auto mask = log::ParseCategories("in_asm,mmu", &bad);
    REQUIRE(mask.has_value());
    CHECK(*mask == ((1u << static_cast<unsigned>(log::Category::InAsm)) | (1u << static_cast<unsigned>(log::Category::Mmu))));
    CHECK_FALSE(log::ParseCategories("in_asm,nonsense", &bad).has_value());
    CHECK(bad == "nonsense");
    CHECK(log::ParseCategories("all", &bad).has_value());
}
