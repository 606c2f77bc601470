// The desk's only script (a module, so the Content Security Policy allows no inline script):
// mark the page as able to run NHS.UK frontend, then start its components. Pages work without it.
import { initAll } from './nhsuk/nhsuk-frontend.min.js'

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported')
initAll()
