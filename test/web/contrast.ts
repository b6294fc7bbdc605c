// Text contrast measured in the page itself: every visible text against the solid background behind it (WCAG 2).
import type { Page } from 'playwright-core'

// The function below runs in the page. This Node project's types leave out the DOM, so the little it uses is
// declared here (for this module only).
interface PageElement {
  parentElement: PageElement | null
  closest(selector: string): PageElement | null
  getClientRects(): { length: number }
}
interface PageStyle {
  color: string
  backgroundColor: string
  fontSize: string
  fontWeight: string
  visibility: string
  opacity: string
}
declare const document: {
  body: PageElement
  createTreeWalker(
    root: PageElement,
    show: number,
  ): { nextNode(): { parentElement: PageElement | null; textContent: string | null } | null }
}
declare const NodeFilter: { SHOW_TEXT: number }
declare function getComputedStyle(element: PageElement): PageStyle

export interface LowContrast {
  text: string
  ratio: number
  needed: number
  color: string
  background: string
}

/** Texts whose contrast is below 4.5:1 (3:1 for large text); an empty list means all are readable. */
export function lowContrastTexts(page: Page): Promise<LowContrast[]> {
  return page.evaluate(() => {
    const parse = (css: string): number[] => (css.match(/[\d.]+/g) ?? []).map(Number)
    const luminance = ([r, g, b]: number[]): number => {
      const linear = (c: number): number => {
        const s = c / 255
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
      }
      return 0.2126 * linear(r ?? 0) + 0.7152 * linear(g ?? 0) + 0.0722 * linear(b ?? 0)
    }
    const backgroundOf = (element: PageElement | null): string => {
      for (let at = element; at !== null; at = at.parentElement) {
        const background = getComputedStyle(at).backgroundColor
        const alpha = parse(background)[3]
        if (alpha === undefined || alpha === 1) return background
      }
      return 'rgb(255, 255, 255)'
    }
    const failures: LowContrast[] = []
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      const element = node.parentElement
      const text = node.textContent?.trim() ?? ''
      if (
        element === null ||
        text === '' ||
        element.closest('[aria-hidden="true"], .visually-hidden, option')
      )
        continue
      if (element.getClientRects().length === 0) continue
      const style = getComputedStyle(element)
      if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue
      const background = backgroundOf(element)
      const [a, b] = [luminance(parse(style.color)), luminance(parse(background))]
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
      const size = Number.parseFloat(style.fontSize)
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700)
      const needed = large ? 3 : 4.5
      if (ratio < needed) {
        failures.push({
          text: text.slice(0, 40),
          ratio: Math.round(ratio * 100) / 100,
          needed,
          color: style.color,
          background,
        })
      }
    }
    return failures
  })
}
